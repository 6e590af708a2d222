/**
 * Errors the product tells apart, as plain `Error`s marked with a `kind`. Pulumi serializes the dynamic
 * providers' code, and a serialized class loses its parent's prototype (a serialized subclass of `Error` is no longer
 * `instanceof Error` and prints as "[object Object]") and, with an implicit constructor, its arguments (the
 * message): the soak saw "progress deadline exceeded undefined" in a real `pulumi up`.
 */
export type ErrorKind = "deadline-exceeded" | "driver-gone" | "lease-lost" | "query-render";

export type KindedError<K extends ErrorKind, F extends object = object> = Error & { readonly kind: K } & Readonly<F>;

export function kindedError<K extends ErrorKind, F extends object>(kind: K, message: string, fields: F): KindedError<K, F> {
    return Object.assign(new Error(message), fields, { kind });
}

export function isKindedError<K extends ErrorKind>(error: unknown, kind: K): error is KindedError<K> {
    return error instanceof Error && (error as { kind?: unknown }).kind === kind;
}
