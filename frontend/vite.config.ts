import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import tailwindcss from '@tailwindcss/vite'
import { defineConfig } from 'vite'

// The backend serves dist/ and the API on one origin; `npm run dev` proxies the API to it.
export default defineConfig({
  plugins: [vue(), tailwindcss()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    proxy: {
      '/api': { target: process.env.API_URL ?? 'http://127.0.0.1:8000', ws: true },
      '/health': process.env.API_URL ?? 'http://127.0.0.1:8000',
    },
  },
  build: { sourcemap: false, chunkSizeWarningLimit: 700 },
})
