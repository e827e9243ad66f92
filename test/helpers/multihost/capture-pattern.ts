/** Four float32 values whose bytes would not turn up in a packet capture by chance (see link-capture.test.ts). */
export const capturePattern = [1234.5677490234375, -98765.4296875, 3.1415927410125732e-7, 271828.1875] as const;
