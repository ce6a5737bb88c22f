/** The option and context types of the Nest layer. */
export * from './election-module-options.interface.js';
export * from './leader-context.interface.js';
