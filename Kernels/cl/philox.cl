// Philox4x32-10 (Salmon et al., SC 2011); twin of Sources/GuidedCompute/Philox.swift.
// Counter (c.x, c.y, c.z, c.w), key (k.x, k.y); ten rounds with the Weyl key schedule.
uint4 philox4x32_10(uint4 c, uint2 k) {
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k.x += 0x9E3779B9u;
            k.y += 0xBB67AE85u;
        }
        const uint hi0 = mul_hi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        const uint hi1 = mul_hi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// A standard normal from two words (Box–Muller): u1 in (0, 1], u2 in [0, 1).
float philox_normal(uint a, uint b) {
    const float scale = 1.0f / 16777216.0f;
    const float u1 = ((float)(a >> 8) + 1.0f) * scale;
    const float u2 = (float)(b >> 8) * scale;
    return sqrt(-2.0f * log(u1)) * cos(2.0f * M_PI_F * u2);
}
