// Merged by @jupyterlab/builder into its webpack config (package.json: jupyterlab.webpackConfig).
// esbuild minifies plotly.js in ~2 s where terser takes ~45 s on two cores, for the same size.
const TerserPlugin = require("terser-webpack-plugin");

module.exports = {
  optimization: {
    minimizer: [new TerserPlugin({ minify: TerserPlugin.esbuildMinify, terserOptions: { legalComments: "none" } })],
  },
};
