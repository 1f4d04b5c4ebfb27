/**
 * Headless figure rendering: a Vega-Lite spec is compiled to Vega, drawn to
 * SVG by a View with no renderer, and rasterised to PNG by resvg (no canvas,
 * no browser). resvg needs a font file for the text: it loads the system
 * fonts and maps the SVG's generic 'sans-serif' to the first family found
 * below (Debian: apt-get install fonts-dejavu-core). Without any font the
 * PNG would silently lose its text, so that is checked once and warned about.
 */
import { existsSync } from 'fs';
import type { ResvgRenderOptions } from '@resvg/resvg-js';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from './atomic';

/**
 * The three renderers, loaded on the first figure: they take about 0.2 s to
 * load, which every command that imports the library (an `allcnn` typo
 * included) paid before.
 */
const resvg = () => require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
const vega = () => require('vega') as typeof import('vega');
const vegaLite = () => require('vega-lite') as typeof import('vega-lite');

/** PNG width in pixels. */
export const PNG_WIDTH = 1200;

const SANS_FONTS: ReadonlyArray<[family: string, file: string]> = [
  ['DejaVu Sans', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'],
  ['Liberation Sans', '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf'],
  ['Noto Sans', '/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf'],
  ['Helvetica', '/System/Library/Fonts/Helvetica.ttc'],
  ['Arial', 'C:\\Windows\\Fonts\\arial.ttf'],
];

let fontOptions: ResvgRenderOptions['font'] | undefined;

function fonts(): ResvgRenderOptions['font'] {
  if (fontOptions) return fontOptions;
  const found = SANS_FONTS.find(([, file]) => existsSync(file));
  fontOptions = found
    ? { loadSystemFonts: true, fontFiles: [found[1]], sansSerifFamily: found[0], defaultFontFamily: found[0] }
    : { loadSystemFonts: true };
  if (!textRenders(fontOptions)) {
    process.emitWarning('no font found for figure text: the PNG figures will have no labels (on Debian: apt-get install fonts-dejavu-core)', 'AllcnnReportWarning');
  }
  return fontOptions;
}

/** Renders a word and looks for ink: resvg drops text it has no font for. */
function textRenders(font: ResvgRenderOptions['font']): boolean {
  const probe = '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30"><text x="4" y="22" font-family="sans-serif" font-size="20">Hg</text></svg>';
  const pixels = new (resvg().Resvg)(probe, { font }).render().pixels;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) return true;
  return false;
}

/** Shared look: white background, sans-serif text (mapped to a real font by fonts()). */
const CONFIG = { background: 'white', font: 'sans-serif', view: { stroke: '#ddd' } };

export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vegaLite().compile({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new (vega().View)(vega().parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string): Uint8Array {
  return new (resvg().Resvg)(svg, { fitTo: { mode: 'width', value: PNG_WIDTH }, font: fonts() }).render().asPng();
}

/** Writes `${outBase}.svg` and `${outBase}.png` (each atomically) and returns their paths. */
export async function writeFigure(spec: TopLevelSpec, outBase: string): Promise<{ svg: string; png: string }> {
  const svg = await toSvg(spec);
  const out = { svg: `${outBase}.svg`, png: `${outBase}.png` };
  writeFileAtomic(out.svg, svg);
  writeFileAtomic(out.png, svgToPng(svg));
  return out;
}
