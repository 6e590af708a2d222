/** IPv4 CIDR arithmetic for the cluster's VPC and subnets. Pure. */

/** An IPv4 CIDR as a 32-bit base address and prefix length, or a reason it is not one. */
export function parseIpv4Cidr(cidr: string): { base: number; prefix: number } | string {
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
    if (!match) {
        return "must be an IPv4 CIDR block such as 10.0.0.0/16";
    }
    const octets = match.slice(1, 5).map(Number);
    const prefix = Number(match[5]);
    if (octets.some((o) => o > 255) || prefix > 32) {
        return "must be an IPv4 CIDR block such as 10.0.0.0/16 (octets 0-255, prefix 0-32)";
    }
    const base = octets.reduce((acc, o) => acc * 256 + o, 0);
    const size = 2 ** (32 - prefix);
    if (base % size !== 0) {
        return `has host bits set; the network address is ${formatIpv4(base - (base % size))}/${prefix}`;
    }
    return { base, prefix };
}

function formatIpv4(address: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join(".");
}

/**
 * The first `count` subnets of a VPC block, each a quarter of it: a /16 gives /18s, room for the VPC CNI's
 * one address per pod.
 */
export function subnetCidrs(vpcCidr: string, count: number): string[] {
    const parsed = parseIpv4Cidr(vpcCidr);
    if (typeof parsed === "string") {
        throw new Error(`VPC CIDR ${vpcCidr} ${parsed}`);
    }
    const prefix = parsed.prefix + 2;
    if (count > 4 || prefix > 28) {
        throw new Error(`VPC CIDR ${vpcCidr} cannot hold ${count} subnets of /${prefix}`);
    }
    const size = 2 ** (32 - prefix);
    return Array.from({ length: count }, (_, i) => `${formatIpv4(parsed.base + i * size)}/${prefix}`);
}
