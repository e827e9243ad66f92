/** The part of plotly.js-dist (which ships no types) that the renderer uses. */
declare module "plotly.js-dist" {
  export interface PlotlyApi {
    /** Draws, or updates in place by diffing against what `root` shows. */
    react(root: HTMLElement, data: unknown[], layout?: Record<string, unknown>, config?: Record<string, unknown>): Promise<HTMLElement>;
    /** Frees the plot's listeners and state. */
    purge(root: HTMLElement): void;
    Plots: { resize(root: HTMLElement): Promise<void> };
  }
  const Plotly: PlotlyApi;
  export default Plotly;
}
