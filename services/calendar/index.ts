export {
  ADDED_CLOSURE_NAME,
  addDays,
  type Closure,
  createCalendar,
  localDate,
  type TradingCalendar,
} from './calendar.ts';
export { MarketConfig } from './config.ts';
