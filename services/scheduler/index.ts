export { addDays, createCalendar, DEFAULT_HK_HOLIDAYS, localDate, type TradingCalendar } from './calendar.ts';
export { DEFAULT_JOBS, ScheduledJob, SchedulerConfig } from './config.ts';
export { dueSlots } from './schedule.ts';
export { type SchedulerOptions, startScheduler } from './scheduler.ts';
export { schedulerService } from './service.ts';
