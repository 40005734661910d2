import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const API_TARGET = 'http://127.0.0.1:8080';

/** Everything the web app talks to lives on the Tribune server (origin + edge). */
const proxy = Object.fromEntries(
  ['/api', '/whip', '/hls', '/origin', '/metrics'].map((prefix) => [
    prefix,
    { target: API_TARGET, changeOrigin: false, ws: false },
  ]),
);

export default defineConfig({
  root: 'src/web',
  plugins: [react()],
  build: {
    outDir: '../../dist/web',
    emptyOutDir: true,
    // The listen page's lazy chunk is mostly hls.js (~580 kB minified); everything else is small.
    chunkSizeWarningLimit: 700,
  },
  server: { proxy },
  preview: { proxy },
});
