import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DATASETS, ErrorCodes, isHarbourError } from '../../contracts/index.ts';
import type { ServiceDeps } from '../runtime/index.ts';
import { traceGold } from '../transformer/lineage.ts';
import { loadModels } from '../transformer/models.ts';
import { normaliseCode, ParamError, parseDate } from './params.ts';

export const LineageQuery = Type.Object(
  {
    model: Type.String({ maxLength: 64, description: 'gold model, e.g. daily_prices' }),
    code: Type.String({ maxLength: 32, description: 'stock code (dq models: the dataset)' }),
    date: Type.Optional(Type.String({ maxLength: 10, description: "the row's date, yyyy-mm-dd" })),
  },
  { additionalProperties: false },
);
type LineageQuery = Static<typeof LineageQuery>;

/**
 * `GET /lineage?model=&code=&date=`: the same JSON as `harbour trace` — the lake files, RAW sequence
 * ranges, fetch times and source URLs behind one gold row. 400 names a bad parameter, 404 when the
 * gold table has no such row. Reads the lake files, so it needs the host's object store.
 */
export function registerLineage(app: FastifyInstance, deps: Pick<ServiceDeps, 'pool' | 'store'>): void {
  app.get('/lineage', { schema: { querystring: LineageQuery } }, async (req, reply) => {
    const q = req.query as LineageQuery;
    const models = loadModels();
    const model = models.find((m) => m.name === q.model);
    if (!model)
      throw new ParamError(
        'model',
        `model: "${q.model}" is not a gold model (${models.map((m) => m.name).join(', ')})`,
      );
    const keyIsDataset = model.name.startsWith('dq_');
    const key = keyIsDataset ? q.code : normaliseCode(q.code, 'code');
    if (keyIsDataset && !(DATASETS as readonly string[]).includes(key))
      throw new ParamError('code', `code: for ${model.name} give a dataset (${DATASETS.join(', ')})`);
    const date = q.date === undefined ? null : parseDate(q.date, 'date');
    if (model.scopeDate && date === null)
      throw new ParamError(
        'date',
        `date: ${model.name} rows are dated (${model.scopeDate}); give date=yyyy-mm-dd`,
      );
    try {
      reply.header('cache-control', 'no-store');
      return await traceGold(deps, { model: model.name, key, date });
    } catch (err) {
      if (isHarbourError(err) && err.code === ErrorCodes.NotFound)
        return reply.code(404).send({ error: 'not_found', message: err.message });
      throw err;
    }
  });
}
