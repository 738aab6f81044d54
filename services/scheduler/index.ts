// The trading calendar lives in services/calendar (one for the whole project); re-exported for the stages that import it from here.
export { addDays, createCalendar, localDate, type TradingCalendar } from '../calendar/index.ts';
export {
  DEFAULT_JOBS,
  defaultSchedule,
  type Schedule,
  ScheduledJob,
  SchedulerConfig,
  scheduleOf,
} from './config.ts';
export { dueSlots } from './schedule.ts';
export { type SchedulerOptions, startScheduler } from './scheduler.ts';
export { schedulerService } from './service.ts';
