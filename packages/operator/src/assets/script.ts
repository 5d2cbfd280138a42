/**
 * Progressive enhancement only (pages work without it): the coverage pill re-polls the JSON API
 * and marks itself stale when a poll fails; copy buttons; the theme select applies on change.
 * Text is set with textContent, never parsed as HTML.
 */
export const SCRIPT = `(() => {
  'use strict';
  const pill = document.getElementById('coverage-pill');
  if (pill) {
    const every = Math.max(5, Number(pill.dataset.poll) || 30) * 1000;
    const poll = async () => {
      try {
        const res = await fetch(pill.dataset.src, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
        if (!res.ok) throw new Error(String(res.status));
        const body = await res.json();
        const n = Number(body.uncovered);
        pill.textContent = n === 0 ? 'All covered' : n + ' uncovered';
        pill.classList.remove('pill-ok', 'pill-bad', 'pill-unknown', 'stale');
        pill.classList.add(n === 0 ? 'pill-ok' : 'pill-bad');
      } catch {
        pill.classList.add('stale');
      }
    };
    setInterval(poll, every);
  }
  for (const button of document.querySelectorAll('button.copy')) {
    button.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy || '');
        button.textContent = 'Copied';
      } catch {
        button.textContent = 'Copy failed';
      }
    });
  }
  const theme = document.getElementById('theme-select');
  if (theme && theme.form) theme.addEventListener('change', () => theme.form.submit());
})();
`;
