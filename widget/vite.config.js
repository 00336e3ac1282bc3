import { defineConfig } from 'vite';

// Library build: one self-contained IIFE (React, chatscope and CSS all inside)
// so a clinic can embed the widget with a single <script> tag.
export default defineConfig(({ command }) => ({
  // Lib mode does not replace process.env.NODE_ENV by itself; React and
  // chatscope need it to drop their development-only code. Only for the
  // build: tests need React's development build (act()).
  define:
    command === 'build' ? { 'process.env.NODE_ENV': JSON.stringify('production') } : {},
  // Vite 8 transforms JSX with Oxc (the successor of the `esbuild` option);
  // the automatic runtime means no React import and no extra plugin.
  oxc: {
    jsx: { runtime: 'automatic' },
  },
  build: {
    target: 'es2019',
    outDir: 'dist',
    emptyOutDir: true,
    copyPublicDir: false,
    sourcemap: false,
    lib: {
      entry: 'src/main.jsx',
      name: 'ClinicChat',
      formats: ['iife'],
      fileName: () => 'clinic-chat.js',
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.{js,jsx}'],
  },
}));
