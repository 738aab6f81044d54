import { type Static, Type } from '@sinclair/typebox';

const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

/**
 * The `market` section: the one trading-calendar setting of the whole project (scheduler, planner,
 * backfill, monitor, demo and the fixture site all read it). Trading days are Monday–Friday except
 * Hong Kong public holidays (the `date-holidays` package, any year), plus and minus these lists.
 */
export const MarketConfig = Type.Object(
  {
    holidaysAdd: Type.Array(IsoDate, {
      default: [],
      description:
        'extra weekday exchange closures (yyyy-mm-dd, comma-separated) that are not Hong Kong public holidays, e.g. a day HKEX stayed closed for a typhoon',
    }),
    holidaysRemove: Type.Array(IsoDate, {
      default: [],
      description:
        'Hong Kong public holidays on which HKEX trades nonetheless (yyyy-mm-dd, comma-separated); half days (Christmas Eve, New Year’s Eve, Lunar New Year’s Eve) are trading days already',
    }),
  },
  { default: {} },
);
export type MarketConfig = Static<typeof MarketConfig>;
