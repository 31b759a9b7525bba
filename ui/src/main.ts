import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';

async function start() {
  // `npm run dev` in a plain browser: a fake Rust side (src/dev/fake.ts). The condition is
  // false in `vite build`, so the fake is never part of dist/.
  if (import.meta.env.DEV && !('__TAURI_INTERNALS__' in window)) {
    await import('./dev/fake');
  }
  const target = document.getElementById('app');
  if (target) mount(App, { target });
}

start();
