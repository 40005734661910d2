import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import './styles.css';

const rootEl = document.getElementById('root');
if (!rootEl) throw new Error('#root is missing from index.html');

// No <StrictMode>: its double-mounting would publish (and tear down) a WHIP session twice.
createRoot(rootEl).render(<App />);
