export * from './leader.guard.js';
