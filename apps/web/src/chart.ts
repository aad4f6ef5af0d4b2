/** A line chart of the loss per step, redrawn as training goes. */
export function drawLossChart(canvas: HTMLCanvasElement, losses: number[], steps: number): void {
  const ctx = canvas.getContext('2d')!;
  const { width, height } = canvas;
  const pad = { left: 44, right: 12, top: 12, bottom: 28 };
  ctx.clearRect(0, 0, width, height);
  const max = Math.max(...losses, 0.1);
  const x = (i: number) => pad.left + ((width - pad.left - pad.right) * i) / Math.max(1, steps - 1);
  const y = (v: number) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  ctx.strokeStyle = '#d8dee4';
  ctx.fillStyle = '#59636e';
  ctx.font = '11px system-ui, sans-serif';
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(width - pad.right, y(v));
    ctx.stroke();
    ctx.fillText(v.toFixed(2), 4, y(v) + 4);
  }
  ctx.fillText('step', width / 2, height - 8);
  ctx.strokeStyle = '#0969da';
  ctx.lineWidth = 2;
  ctx.beginPath();
  losses.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
  ctx.stroke();
}
