/** Rendering of computed reports: JSON, CSV, standalone HTML (with SVG charts), plain text and e-mail. */
export * from './types.js';
export { renderJson } from './json.js';
export { renderCsv, csvTables, stringifyTables, CSV_TABLES, type CsvCell, type CsvTable, type CsvTableName, type RenderCsvOptions } from './csv.js';
export { renderHtml, NO_DATA, type HtmlVariant, type RenderHtmlOptions } from './html.js';
export { renderText } from './text.js';
export { ArtifactTooLargeError, byteLength, enforceMaxSize, type ArtifactFormat } from './size.js';
export {
  composeReportEmail,
  createMailer,
  DEFAULT_MAX_ARTIFACT_BYTES,
  reportFileName,
  reportSubject,
  type ComposeReportEmailOptions,
  type Mailer,
  type MailerOptions,
  type SendMailOptions,
  type SendResult,
} from './email.js';
