export * from './format.js';
export * from './goertzel.js';
export * from './levels.js';
export * from './limiter.js';
export * from './speaker-buffer.js';
export * from './mixer.js';
export * from './clock.js';
