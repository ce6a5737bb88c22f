export * from './election-module-options.interface.js';
export * from './leader-context.interface.js';
