import type { ReplyContents } from "../protocol/wire-types.js";
import { PROTOCOL_VERSION } from "../protocol/wire-types.js";

/** What the kernel says about itself in kernel_info_reply. */
export interface KernelIdentity {
  /** ringbook's version. */
  implementationVersion: string;
  /** The TypeScript version cells are compiled with. */
  languageVersion: string;
}

/** Builds the kernel_info_reply content. */
export function kernelInfoContent(identity: KernelIdentity): ReplyContents["kernel_info_reply"] {
  return {
    status: "ok",
    protocol_version: PROTOCOL_VERSION,
    implementation: "ringbook",
    implementation_version: identity.implementationVersion,
    language_info: {
      name: "typescript",
      version: identity.languageVersion,
      mimetype: "text/typescript",
      file_extension: ".ts",
      codemirror_mode: "typescript",
      pygments_lexer: "typescript",
    },
    banner: `ringbook ${identity.implementationVersion}: TypeScript ${identity.languageVersion} on Node.js ${process.versions.node}, for interactive distributed training`,
    help_links: [
      { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
      { text: "Node.js API", url: "https://nodejs.org/api/" },
      { text: "TensorFlow.js API", url: "https://js.tensorflow.org/api/latest/" },
    ],
    debugger: false,
  };
}
