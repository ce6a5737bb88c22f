/** The guards of the Nest layer. */
export * from './leader.guard.js';
