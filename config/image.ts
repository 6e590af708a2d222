/** Container image references in stack config. Pure. */
import { FailureCollector, show } from "../analysis/spec/failures";

/** An image reference: no whitespace, optional registry/path, tag and/or digest. */
const IMAGE = /^[a-z0-9]+([._\/:@-][a-zA-Z0-9_.-]+)*(@sha256:[a-f0-9]{64})?$/;

export function checkImage(c: FailureCollector, path: string, image: unknown): void {
    if (!(typeof image === "string" && IMAGE.test(image))) {
        c.fail(path, `must be a container image reference such as registry/name:tag, got ${show(image)}`);
    }
}
