export { DecodeError } from './errors';
export { decompress, sniffCompression } from './decompress';
export type { Compression, DecompressOptions } from './decompress';
export { openDecompressed } from './open';
export type { OpenOptions } from './open';
export { csvRecords, csvRows, normalizeHeader, DEFAULT_MAX_FIELD_BYTES } from './csv';
export type { CsvColumn, CsvOptions } from './csv';
export { parseCount, parseDay, parseTimestamp } from './values';
