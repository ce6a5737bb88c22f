/** The library's events on `node:diagnostics_channel`: channel names, payloads, publishers. */
export * from './channels.js';
export * from './events.js';
export * from './publish.js';
