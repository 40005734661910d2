/** "1 h 02 min", "12 min 05 s", "42 s". */
export function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '0 s';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(r).padStart(2, '0')} s`;
  return `${r} s`;
}
