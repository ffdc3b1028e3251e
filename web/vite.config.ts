// The dashboard's build: plain TypeScript modules bundled for /ui/ (the awan binary embeds the output).
// AWAN_UI_OUT (set by CMake) is where the bundle goes; a build for a developer goes to dist/.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/ui/',
  build: {
    outDir: process.env.AWAN_UI_OUT ?? 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
});
