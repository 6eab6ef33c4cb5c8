import { defineConfig } from 'vite';

// The console is served by `pier serve` under a strict Content-Security-Policy
// (web/handler.go): no inline script or style, nothing from another origin.
// So: no module-preload polyfill (it would be inline-injected in dev only,
// but keep the build plain), no assets inlined as data: URIs but images,
// and CSS in files.
export default defineConfig({
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: 'dist/console',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    target: 'es2022',
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev`: the API of a local `make run`.
    proxy: { '/api': 'http://127.0.0.1:8081' },
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
});
