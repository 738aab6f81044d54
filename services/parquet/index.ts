export {
  type ColumnsForOptions,
  columnsFor,
  datasetColumns,
  META_COLUMNS,
  type ParquetColumn,
  type ParquetColumnType,
} from './columns.ts';
export {
  columnsOfSchema,
  iterateParquetRowGroups,
  openParquetFile,
  type ParquetFileInfo,
  type ParquetSource,
  type ReadParquetOptions,
  readParquetInfo,
  readParquetRows,
  toAsyncBuffer,
} from './reader.ts';
export {
  createParquetWriter,
  DEFAULT_ROW_GROUP_ROWS,
  type ParquetCodec,
  type ParquetFileWriter,
  type ParquetFinishResult,
  type ParquetRow,
  type ParquetSink,
  type ParquetWriterOptions,
} from './writer.ts';
