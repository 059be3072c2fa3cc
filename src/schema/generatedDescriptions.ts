import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import { CONNECTION_SIZES } from './helpers.js';

// Descriptions of what the plugins generate rather than the modules define: the Relay connection machinery
// (PageInfo, edges, cursors, paging arguments) and the Prisma plugin's totalCount. Written once here, they
// describe every connection a module declares with `prismaConnection` and CONNECTION_SIZES.

const { defaultSize, maxSize } = CONNECTION_SIZES;

/** Spread into the builder's `relay` options. */
export const RELAY_DESCRIPTIONS = {
  pageInfoTypeOptions: {
    description: 'Where a page sits in its list: whether items come before or after it, and the cursors to ask for them.',
  },
  hasNextPageFieldOptions: {
    description:
      'Whether more items follow this page in the list order. When paging backward, true whenever `before` was given ' +
      'and false otherwise (the Relay rule).',
  },
  hasPreviousPageFieldOptions: {
    description:
      'Whether items come before this page in the list order. When paging forward, true whenever `after` was given ' +
      'and false otherwise (the Relay rule).',
  },
  startCursorFieldOptions: {
    description: 'Cursor of the first item of this page, to pass as `before`; null when the page is empty.',
  },
  endCursorFieldOptions: {
    description: 'Cursor of the last item of this page, to pass as `after`; null when the page is empty.',
  },
  pageInfoFieldOptions: { description: 'Where this page sits in the list, and the cursors to page on.' },
  edgesFieldOptions: { description: 'The items of this page, each with its cursor, in the list order.' },
  nodeFieldOptions: { description: 'The item.' },
  cursorFieldOptions: {
    description:
      'Opaque position of this item in its list: pass it as `after` (or `before`) to get the items that follow (or precede) it. ' +
      'Only valid for the list that returned it.',
  },
  firstArgOptions: {
    description:
      `Forward paging: at most this many items from the start of the list (or after \`after\`), 0 or more; ` +
      `${defaultSize} when neither first nor last is given; larger values give ${maxSize}. Not with \`before\` or \`last\`.`,
  },
  afterArgOptions: {
    description: 'Forward paging: only items after the one with this cursor (an edge cursor or pageInfo.endCursor). Not with `before` or `last`.',
  },
  lastArgOptions: {
    description:
      `Backward paging: at most this many items from the end of the list (or before \`before\`), 0 or more; larger ` +
      `values give ${maxSize}. Not with \`after\` or \`first\`.`,
  },
  beforeArgOptions: {
    description: 'Backward paging: only items before the one with this cursor (an edge cursor or pageInfo.startCursor). Not with `after` or `first`.',
  },
} as const;

const TOTAL_COUNT_DESCRIPTION =
  "How many items match the list's filter, on all pages together (first, last, before and after do not change it); " +
  'counted only when selected.';

const ADMIN_NOTE = 'Needs an API key with the ADMIN scope.';

/**
 * Fills in the description of the Prisma plugin's `totalCount` connection field, which takes no options (a
 * description a connection gives its own totalCount through its `fields` is kept), and ends the description of
 * every ADMIN_ONLY field with the scope it needs, as the Query and Mutation descriptions promise: written from
 * the field's own auth options, it cannot drift from what is enforced.
 */
class GeneratedDescriptionsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    if (fieldConfig.description === undefined && fieldConfig.extensions?.pothosPrismaTotalCount === true) {
      return { ...fieldConfig, description: TOTAL_COUNT_DESCRIPTION };
    }
    const { authScopes } = fieldConfig.pothosOptions as { authScopes?: unknown };
    const adminOnly = typeof authScopes === 'object' && authScopes !== null && (authScopes as { scope?: unknown }).scope === 'ADMIN';
    if (adminOnly && fieldConfig.description && !fieldConfig.description.includes(ADMIN_NOTE)) {
      return { ...fieldConfig, description: `${fieldConfig.description} ${ADMIN_NOTE}` };
    }
    return fieldConfig;
  }
}

declare global {
  // Pothos' plugin registry is a global interface that each plugin extends.
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      generatedDescriptions: GeneratedDescriptionsPlugin<Types>;
    }
  }
}

export const generatedDescriptionsPlugin = 'generatedDescriptions' as const;
SchemaBuilder.registerPlugin(generatedDescriptionsPlugin, GeneratedDescriptionsPlugin);
