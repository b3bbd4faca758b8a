//! The simulated WAN: regions, their round-trip times, and the link model (jitter, loss,
//! bandwidth).
//!
//! Times are in **microseconds** of simulated time.

/// A world region where sites live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Region {
    Europe,
    NorthAmerica,
    Asia,
    SouthAmerica,
    Africa,
    Oceania,
}

impl Region {
    /// Every region, in the order of the latency matrix.
    pub const ALL: [Region; 6] = [
        Region::Europe,
        Region::NorthAmerica,
        Region::Asia,
        Region::SouthAmerica,
        Region::Africa,
        Region::Oceania,
    ];

    /// Index into [`RTT_MS`].
    pub fn index(self) -> usize {
        match self {
            Region::Europe => 0,
            Region::NorthAmerica => 1,
            Region::Asia => 2,
            Region::SouthAmerica => 3,
            Region::Africa => 4,
            Region::Oceania => 5,
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Region::Europe => "Europe",
            Region::NorthAmerica => "North America",
            Region::Asia => "Asia",
            Region::SouthAmerica => "South America",
            Region::Africa => "Africa",
            Region::Oceania => "Oceania",
        }
    }

    /// Parses a name (case-insensitive; `eu`, `na`, `asia`, `sa`, `africa`, `oceania`).
    pub fn parse(s: &str) -> Option<Region> {
        match s.to_ascii_lowercase().as_str() {
            "europe" | "eu" => Some(Region::Europe),
            "northamerica" | "north-america" | "na" => Some(Region::NorthAmerica),
            "asia" => Some(Region::Asia),
            "southamerica" | "south-america" | "sa" => Some(Region::SouthAmerica),
            "africa" | "af" => Some(Region::Africa),
            "oceania" | "oc" => Some(Region::Oceania),
            _ => None,
        }
    }

    /// The UTC offset of the region's typical working day, in hours (for follow-the-sun
    /// posting): Central Europe, US East, China/Singapore, Brazil, South Africa, Eastern
    /// Australia.
    pub fn utc_offset_hours(self) -> i64 {
        match self {
            Region::Europe => 1,
            Region::NorthAmerica => -5,
            Region::Asia => 8,
            Region::SouthAmerica => -3,
            Region::Africa => 2,
            Region::Oceania => 10,
        }
    }

    /// Which region site `i` is in. Sites are spread by a fixed pattern of 20 slots that
    /// approximates a multinational's footprint: Europe 7, North America 5, Asia 4, South
    /// America 2, Africa 1, Oceania 1.
    pub fn of_site(i: usize) -> Region {
        const SLOTS: [Region; 20] = [
            Region::Europe,
            Region::NorthAmerica,
            Region::Asia,
            Region::Europe,
            Region::SouthAmerica,
            Region::NorthAmerica,
            Region::Africa,
            Region::Europe,
            Region::Asia,
            Region::Oceania,
            Region::Europe,
            Region::NorthAmerica,
            Region::Asia,
            Region::Europe,
            Region::SouthAmerica,
            Region::NorthAmerica,
            Region::Europe,
            Region::Asia,
            Region::NorthAmerica,
            Region::Europe,
        ];
        SLOTS[i % SLOTS.len()]
    }
}

/// Round-trip times between regions, in milliseconds (the diagonal is between two sites of
/// the same region).
///
/// Source: approximate medians read from public inter-region latency tables of cloud
/// providers (AWS inter-region round-trip times as published by cloudping.co and the Azure
/// network round-trip latency statistics page), cross-checked against WonderNetwork's global
/// ping statistics. Representative city pairs: Frankfurt, N. Virginia, Singapore, São Paulo,
/// Cape Town, Sydney. Values are rounded to 5 ms; intra-region values are typical of two
/// cities of the same continent (e.g. Frankfurt–London, Virginia–Ohio/Oregon averaged).
pub const RTT_MS: [[u32; 6]; 6] = [
    // EU   NA   Asia  SA   Africa Oceania
    [20, 90, 160, 200, 155, 250],  // Europe
    [90, 40, 215, 115, 225, 200],  // North America
    [160, 215, 50, 325, 290, 95],  // Asia
    [200, 115, 325, 30, 340, 310], // South America
    [155, 225, 290, 340, 60, 410], // Africa
    [250, 200, 95, 310, 410, 25],  // Oceania
];

/// The base one-way latency between two regions, in microseconds (half the round trip).
pub fn one_way_us(a: Region, b: Region) -> u64 {
    u64::from(RTT_MS[a.index()][b.index()]) * 1000 / 2
}

/// The shortest one-way latency between two regions over any chain of regions (the
/// physical lower bound for a change to travel from one to the other, even through relays),
/// in microseconds.
pub fn shortest_one_way_us(a: Region, b: Region) -> u64 {
    let mut d = [[0u64; 6]; 6];
    for x in Region::ALL {
        for y in Region::ALL {
            d[x.index()][y.index()] = one_way_us(x, y);
        }
    }
    for k in 0..6 {
        for i in 0..6 {
            for j in 0..6 {
                let via = d[i][k] + d[k][j];
                if via < d[i][j] {
                    d[i][j] = via;
                }
            }
        }
    }
    d[a.index()][b.index()]
}

/// How links behave.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkModel {
    /// Extra one-way delay drawn uniformly in `0..=jitter × base` (0.1 = up to 10 %).
    pub jitter: f64,
    /// Probability that a frame is lost on the wire. Connections are reliable streams (QUIC,
    /// which the nodes prefer), so a loss is repaired by a retransmission: the frame arrives
    /// one probe timeout later ([`LinkModel::retransmit_after_us`]), still in order.
    pub loss: f64,
    /// Each site's WAN uplink, in bits per second, shared by all its connections: frames a
    /// site sends are serialised on it one after another.
    pub uplink_bps: u64,
    /// The peer's largest delay before it acknowledges (QUIC's `max_ack_delay`, 25 ms by
    /// default), part of the probe timeout.
    pub max_ack_delay_us: u64,
    /// The smallest retransmission timeout: QUIC's timer granularity (1 ms). A TCP stack's
    /// minimum RTO (200 ms on Linux) can be modelled by raising it.
    pub rto_floor_us: u64,
}

impl Default for LinkModel {
    fn default() -> LinkModel {
        LinkModel {
            jitter: 0.1,
            loss: 0.001,
            uplink_bps: 100_000_000,
            max_ack_delay_us: 25_000,
            rto_floor_us: 1_000,
        }
    }
}

/// A deterministic hash of a few numbers (splitmix64 over them), used to draw a frame's
/// jitter and loss from its link and its position on that link, so that the draw does not
/// depend on the order in which the simulator happens to visit links.
pub fn mix(values: &[u64]) -> u64 {
    let mut h: u64 = 0x243F_6A88_85A3_08D3;
    for v in values {
        h ^= *v;
        h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

/// A uniform value in `[0, 1)` from a hash.
pub fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl LinkModel {
    /// The propagation delay of the `n`th frame on the directed link `from → to`, jitter and
    /// loss (a retransmission) included, in microseconds.
    pub fn propagation_us(&self, seed: u64, from: usize, to: usize, n: u64, base_us: u64) -> u64 {
        let h = mix(&[seed, from as u64, to as u64, n]);
        let jitter = (base_us as f64 * self.jitter * unit(h)) as u64;
        let lost = unit(mix(&[h, 1])) < self.loss;
        let retransmit = if lost {
            self.retransmit_after_us(base_us)
        } else {
            0
        };
        base_us + jitter + retransmit
    }

    /// How long after a lost frame was sent its copy is sent, for a link of one-way delay
    /// `base_us`: QUIC's probe timeout (RFC 9002, 6.2.1) once the connection has measured its
    /// round trip — smoothed RTT + max(4 × RTT variation, granularity) + max ACK delay — with
    /// the RTT variation of this model's jitter (each way up to `jitter` × the one-way delay,
    /// so a mean deviation of about `jitter` / 2 of the RTT). A frame that is the last of a
    /// burst is found lost only by this timer; one followed by others is found sooner (three
    /// later packets acknowledged), which the model leaves out: most frames here travel
    /// alone.
    pub fn retransmit_after_us(&self, base_us: u64) -> u64 {
        let rtt = 2 * base_us;
        let rttvar = (rtt as f64 * self.jitter / 2.0) as u64;
        (rtt + (4 * rttvar).max(1_000) + self.max_ack_delay_us).max(self.rto_floor_us)
    }

    /// The time to put `bytes` on the uplink, in microseconds.
    pub fn transmit_us(&self, bytes: usize) -> u64 {
        (bytes as u64 * 8 * 1_000_000).div_ceil(self.uplink_bps.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_is_symmetric() {
        for a in Region::ALL {
            for b in Region::ALL {
                assert_eq!(RTT_MS[a.index()][b.index()], RTT_MS[b.index()][a.index()]);
            }
        }
    }

    #[test]
    fn shortest_path_never_exceeds_direct() {
        for a in Region::ALL {
            for b in Region::ALL {
                assert!(shortest_one_way_us(a, b) <= one_way_us(a, b));
                assert!(shortest_one_way_us(a, b) > 0);
            }
        }
    }

    #[test]
    fn propagation_at_least_base() {
        let m = LinkModel {
            loss: 0.5,
            ..LinkModel::default()
        };
        for n in 0..1000 {
            let p = m.propagation_us(7, 1, 2, n, 45_000);
            let pto = m.retransmit_after_us(45_000);
            assert!(pto >= 2 * 45_000 + 25_000, "{pto}");
            assert!((45_000..=45_000 + 4_500 + pto).contains(&p), "{p}");
        }
    }
}
