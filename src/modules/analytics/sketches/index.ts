export { SketchDecodeError } from './encoding.js';
export {
  DEFAULT_MAX_BINS,
  DEFAULT_RELATIVE_ACCURACY,
  QuantileSketch,
  type QuantileSketchOptions,
} from './quantileSketch.js';
export {
  DEFAULT_PRECISION,
  DistinctCountSketch,
  EXACT_LIMIT,
  hashId,
  type DistinctCountForm,
  type DistinctCountSketchOptions,
} from './distinctCount.js';
