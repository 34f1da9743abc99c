/**
 * Chart → PNG: serializes the chart's <svg> (recharts surface or our own heatmap SVG), draws it on a canvas at 2×
 * over the page background, and returns a PNG Blob. Charts use explicit colours (no stylesheet lookups) so the
 * serialized SVG looks like what is on screen.
 */
export async function svgToPng(
  svg: SVGSVGElement,
  opts: { scale?: number; background?: string; title?: string; legend?: { label: string; color: string }[]; axes?: { x?: string; y?: string } } = {},
): Promise<Blob> {
  const scale = opts.scale ?? 2;
  const rect = svg.getBoundingClientRect();
  const w = Math.max(1, Math.round(rect.width));
  const h = Math.max(1, Math.round(rect.height));
  const titleH = (opts.title || opts.legend?.length ? 28 : 0) + (opts.axes?.y ? 16 : 0);
  const footH = opts.axes?.x ? 18 : 0;
  const clone = svg.cloneNode(true) as SVGSVGElement;
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.setAttribute('width', String(w));
  clone.setAttribute('height', String(h));
  const fontFamily = getComputedStyle(svg).fontFamily || 'sans-serif';
  clone.setAttribute('style', `font-family:${fontFamily};font-size:12px`);
  const xml = new XMLSerializer().serializeToString(clone);
  const url = URL.createObjectURL(new Blob([xml], { type: 'image/svg+xml;charset=utf-8' }));
  try {
    const img = new Image();
    img.decoding = 'sync';
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error('could not render the chart as an image'));
      img.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = w * scale;
    canvas.height = (h + titleH + footH) * scale;
    const g = canvas.getContext('2d')!;
    g.scale(scale, scale);
    g.fillStyle = opts.background ?? '#ffffff';
    g.fillRect(0, 0, w, h + titleH + footH);
    const muted = '#8a8fa3';
    if (opts.axes?.y) {
      g.fillStyle = muted;
      g.font = `11px ${fontFamily}`;
      g.fillText(opts.axes.y, 12, titleH - 4);
    }
    if (opts.axes?.x) {
      g.fillStyle = muted;
      g.font = `11px ${fontFamily}`;
      const tw = g.measureText(opts.axes.x).width;
      g.fillText(opts.axes.x, (w - tw) / 2, titleH + h + 13);
    }
    if (opts.title) {
      g.fillStyle = getComputedStyle(document.body).color || '#111';
      g.font = `600 14px ${fontFamily}`;
      g.fillText(opts.title, 12, 19);
    }
    if (opts.legend?.length) {
      g.font = `12px ${fontFamily}`;
      let x = w - 12;
      for (const item of [...opts.legend].reverse()) {
        const tw = g.measureText(item.label).width;
        x -= tw;
        g.fillStyle = getComputedStyle(document.body).color || '#111';
        g.fillText(item.label, x, 19);
        x -= 20;
        g.fillStyle = item.color;
        g.fillRect(x, 13, 14, 3);
        x -= 14;
      }
    }
    g.drawImage(img, 0, titleH, w, h);
    return await new Promise<Blob>((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}
