// Entry point of the renderer: connect to the core (Electron bridge or `sightline serve`) and mount the shell.
import './styles/theme.css';
import { mount } from 'svelte';
import App from './App.svelte';
import StartupFailure from './components/StartupFailure.svelte';
import { createApiClient } from './lib/apiClient.js';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

try {
  mount(App, { target, props: { client: createApiClient() } });
} catch (e) {
  mount(StartupFailure, { target, props: { message: e instanceof Error ? e.message : String(e) } });
}
