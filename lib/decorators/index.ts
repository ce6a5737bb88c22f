/** Every decorator of the library. */
export { CurrentLeadership } from './current-leadership.decorator.js';
export * from './inject-election.decorator.js';
export * from './leader-only.decorator.js';
export * from './leader-route.decorator.js';
export * from './on-follower.decorator.js';
export * from './on-leader.decorator.js';
export { OnOneInstance, type OnOneInstanceOptions } from './on-one-instance.decorator.js';
export {
  WithoutOverlapping,
  type WithoutOverlappingOptions,
} from './without-overlapping.decorator.js';
