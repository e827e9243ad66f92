/** Debian's chromium for browser tests, headless, with nothing that reaches the internet on its own. */
export const chromiumLaunchOptions = {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
};
