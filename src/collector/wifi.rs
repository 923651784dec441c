//! `wifi` (off by default): Wi-Fi interfaces and their stations from nl80211 over generic
//! netlink → node_exporter's node_wifi_* families: each interface's frequency, the BSS a client
//! interface is associated with (`node_wifi_station_info{device,bssid,ssid,mode}`), and per
//! station (the clients of an access point, or a client's access point) the connected and
//! inactive time, bitrates, bytes, signal, retries, failures and beacon losses
//! `{device,mac_address}`. proctap adds `proctap_wifi_stations{device}`: how many stations an
//! interface has, 0 included, which `count()` over the station series cannot say when there
//! are none.
//!
//! The three dumps are NL80211_CMD_GET_INTERFACE, then per interface NL80211_CMD_GET_SCAN
//! (the BSS with NL80211_BSS_STATUS is the associated one) and NL80211_CMD_GET_STATION, with
//! the attribute layouts of include/uapi/linux/nl80211.h. A kernel without cfg80211 has no
//! nl80211 family: node_exporter's "no data" (success 0, proctap_scrape_collector_unavailable).
use crate::collector::{Build, Collect, Collector, Ctx, Sources, What};
use crate::expo::{Encoder, Kind};
use crate::netlink::{self, Attr, Family, NlError, Socket};
use crate::source::Error;

const CMD_GET_INTERFACE: u8 = 5;
const CMD_GET_STATION: u8 = 17;
const CMD_GET_SCAN: u8 = 32;
const ATTR_IFINDEX: u16 = 3;
const ATTR_IFNAME: u16 = 4;
const ATTR_MAC: u16 = 6;
const ATTR_STA_INFO: u16 = 21;
const ATTR_WIPHY_FREQ: u16 = 38;
const ATTR_BSS: u16 = 47;
const STA_INACTIVE_TIME: u16 = 1;
const STA_RX_BYTES: u16 = 2;
const STA_TX_BYTES: u16 = 3;
const STA_SIGNAL: u16 = 7;
const STA_TX_BITRATE: u16 = 8;
const STA_TX_RETRIES: u16 = 11;
const STA_TX_FAILED: u16 = 12;
const STA_RX_BITRATE: u16 = 14;
const STA_CONNECTED_TIME: u16 = 16;
const STA_BEACON_LOSS: u16 = 18;
const STA_RX_BYTES64: u16 = 23;
const STA_TX_BYTES64: u16 = 24;
const RATE_BITRATE: u16 = 1;
const RATE_BITRATE32: u16 = 5;
const BSS_BSSID: u16 = 1;
const BSS_INFORMATION_ELEMENTS: u16 = 6;
const BSS_STATUS: u16 = 9;
/// The information element that holds the SSID (IEEE 802.11 element ID 0).
const IE_SSID: u8 = 0;

/// A Wi-Fi interface of the GET_INTERFACE dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Iface {
    pub index: u32,
    name: [u8; 16],
    name_len: u8,
    /// The operating frequency in MHz (0: none, e.g. not up).
    pub freq_mhz: u32,
}

impl Iface {
    pub fn name(&self) -> &[u8] {
        self.name.get(..usize::from(self.name_len)).unwrap_or(&[])
    }
}

/// The BSS a client interface is associated with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bss {
    pub bssid: [u8; 6],
    ssid: [u8; 32],
    ssid_len: u8,
    pub status: u32,
}

impl Bss {
    pub fn ssid(&self) -> &[u8] {
        self.ssid.get(..usize::from(self.ssid_len)).unwrap_or(&[])
    }

    /// node_exporter's `mode` label: authenticated or associated is a client, IBSS ad-hoc.
    pub fn mode(&self) -> &'static str {
        match self.status {
            0 | 1 => "client",
            2 => "ad-hoc",
            _ => "unknown",
        }
    }
}

/// One station of an interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Station {
    pub mac: [u8; 6],
    pub connected_s: u32,
    pub inactive_ms: u32,
    pub rx_bits: u64,
    pub tx_bits: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub signal_dbm: i8,
    pub tx_retries: u32,
    pub tx_failed: u32,
    pub beacon_loss: u32,
}

fn copy_into<const N: usize>(dst: &mut [u8; N], src: &[u8]) -> u8 {
    let n = src.len().min(N);
    dst[..n].copy_from_slice(&src[..n]);
    n as u8
}

fn genl_attrs(payload: &[u8]) -> &[u8] {
    payload.get(netlink::GENL_HDRLEN..).unwrap_or(&[])
}

/// Parses one NL80211_CMD_NEW_INTERFACE message.
pub fn parse_interface(payload: &[u8]) -> Result<Iface, NlError> {
    let mut i = Iface::default();
    netlink::for_each_attr(genl_attrs(payload), |a| {
        match a.ty {
            ATTR_IFINDEX => i.index = netlink::u32_attr(&a, "NL80211_ATTR_IFINDEX")?,
            ATTR_IFNAME => i.name_len = copy_into(&mut i.name, netlink::c_str(a.data)),
            ATTR_WIPHY_FREQ => i.freq_mhz = netlink::u32_attr(&a, "NL80211_ATTR_WIPHY_FREQ")?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(i)
}

/// The associated BSS in one NL80211_CMD_NEW_SCAN_RESULTS message: the one with a status.
pub fn parse_scan_result(payload: &[u8]) -> Result<Option<Bss>, NlError> {
    let mut found = None;
    netlink::for_each_attr(genl_attrs(payload), |a| {
        if a.ty != ATTR_BSS || found.is_some() {
            return Ok(());
        }
        let mut b = Bss::default();
        let mut status = None;
        netlink::for_each_attr(a.data, |n| {
            match n.ty {
                BSS_BSSID => {
                    copy_into(&mut b.bssid, n.data);
                }
                BSS_STATUS => status = Some(netlink::u32_attr(&n, "NL80211_BSS_STATUS")?),
                BSS_INFORMATION_ELEMENTS => {
                    if let Some(ssid) = ssid_of(n.data) {
                        b.ssid_len = copy_into(&mut b.ssid, ssid);
                    }
                }
                _ => {}
            }
            Ok(())
        })?;
        if let Some(s) = status {
            b.status = s;
            found = Some(b);
        }
        Ok(())
    })?;
    Ok(found)
}

/// The SSID element of a BSS's information elements (u8 id, u8 length, data); elements cut
/// short end the search.
pub fn ssid_of(mut ies: &[u8]) -> Option<&[u8]> {
    while let [id, len, rest @ ..] = ies {
        let data = rest.get(..usize::from(*len))?;
        if *id == IE_SSID {
            return Some(data);
        }
        ies = &rest[usize::from(*len)..];
    }
    None
}

/// Parses one NL80211_CMD_NEW_STATION message; one without NL80211_ATTR_STA_INFO is `None`.
pub fn parse_station(payload: &[u8]) -> Result<Option<Station>, NlError> {
    let mut s = Station::default();
    let mut info = None;
    netlink::for_each_attr(genl_attrs(payload), |a| {
        match a.ty {
            ATTR_MAC => {
                copy_into(&mut s.mac, a.data);
            }
            ATTR_STA_INFO => info = Some(a.data),
            _ => {}
        }
        Ok(())
    })?;
    let Some(info) = info else { return Ok(None) };
    let (mut rx64, mut tx64, mut rx32, mut tx32) = (None, None, None, None);
    netlink::for_each_attr(info, |a| {
        let u32v = |what| netlink::u32_attr(&a, what);
        match a.ty {
            STA_CONNECTED_TIME => s.connected_s = u32v("NL80211_STA_INFO_CONNECTED_TIME")?,
            STA_INACTIVE_TIME => s.inactive_ms = u32v("NL80211_STA_INFO_INACTIVE_TIME")?,
            STA_RX_BYTES => rx32 = Some(u32v("NL80211_STA_INFO_RX_BYTES")?),
            STA_TX_BYTES => tx32 = Some(u32v("NL80211_STA_INFO_TX_BYTES")?),
            STA_RX_BYTES64 => rx64 = Some(netlink::u64_attr(&a, "NL80211_STA_INFO_RX_BYTES64")?),
            STA_TX_BYTES64 => tx64 = Some(netlink::u64_attr(&a, "NL80211_STA_INFO_TX_BYTES64")?),
            STA_SIGNAL => {
                let b = a
                    .data
                    .first()
                    .ok_or_else(|| netlink::short("NL80211_STA_INFO_SIGNAL", 1, 0))?;
                s.signal_dbm = *b as i8;
            }
            STA_TX_RETRIES => s.tx_retries = u32v("NL80211_STA_INFO_TX_RETRIES")?,
            STA_TX_FAILED => s.tx_failed = u32v("NL80211_STA_INFO_TX_FAILED")?,
            STA_BEACON_LOSS => s.beacon_loss = u32v("NL80211_STA_INFO_BEACON_LOSS")?,
            STA_RX_BITRATE => s.rx_bits = bitrate(&a)?,
            STA_TX_BITRATE => s.tx_bits = bitrate(&a)?,
            _ => {}
        }
        Ok(())
    })?;
    s.rx_bytes = rx64.or(rx32.map(u64::from)).unwrap_or(0);
    s.tx_bytes = tx64.or(tx32.map(u64::from)).unwrap_or(0);
    Ok(Some(s))
}

/// A nested rate info's total bitrate in bits per second: NL80211_RATE_INFO_BITRATE32, or
/// the 16-bit NL80211_RATE_INFO_BITRATE, both in units of 100 kbit/s.
fn bitrate(a: &Attr) -> Result<u64, NlError> {
    let (mut r32, mut r16) = (None, None);
    netlink::for_each_attr(a.data, |r| {
        match r.ty {
            RATE_BITRATE32 => r32 = Some(netlink::u32_attr(&r, "NL80211_RATE_INFO_BITRATE32")?),
            RATE_BITRATE => {
                r16 =
                    Some(netlink::u16_at(r.data, 0).ok_or_else(|| {
                        netlink::short("NL80211_RATE_INFO_BITRATE", 2, r.data.len())
                    })?)
            }
            _ => {}
        }
        Ok(())
    })?;
    let units = r32.or(r16.map(u32::from)).unwrap_or(0);
    Ok(u64::from(units) * 100_000)
}

/// A MAC address as Go's net.HardwareAddr prints it: lower-case hex pairs joined by colons.
pub fn mac_str<'a>(mac: &[u8; 6], buf: &'a mut [u8; 17]) -> &'a str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in mac.iter().enumerate() {
        buf[3 * i] = HEX[usize::from(b >> 4)];
        buf[3 * i + 1] = HEX[usize::from(b & 0xf)];
        if i < 5 {
            buf[3 * i + 2] = b':';
        }
    }
    std::str::from_utf8(buf).unwrap_or("")
}

pub const COLLECTOR: Collector = Collector {
    name: "wifi",
    enabled_by_default: false,
    flags: &[],
    help_section: None,
    sources: Sources {
        reads: &[What::Netlink(
            Family::Generic("nl80211"),
            "GET_INTERFACE, GET_SCAN, GET_STATION dumps",
        )],
        hint: "a Wi-Fi driver (cfg80211) registers nl80211; no privilege is needed",
    },
    build: Build::New(|_| Ok(Box::<Wifi>::default())),
};

#[derive(Default)]
pub struct Wifi {
    sock: Option<Socket>,
    family: Option<u16>,
    req: Vec<u8>,
    ifaces: Vec<(Iface, Option<Bss>, usize)>,
    /// Every interface's stations, in interface order (the third field of `ifaces` counts).
    stations: Vec<(usize, Station)>,
}

/// A dump of one interface that fails for a reason of the interface (it is down, a monitor,
/// gone) leaves its part out rather than failing the collector.
fn skippable(e: &NlError) -> bool {
    matches!(e, NlError::Io(e) if matches!(e.raw_os_error(),
        Some(libc::ENOENT | libc::EOPNOTSUPP | libc::ENODEV | libc::ENETDOWN | libc::EINVAL | libc::ENOLINK)))
}

impl Wifi {
    fn dump(&mut self) -> Result<(), NlError> {
        let sock = match &mut self.sock {
            Some(s) => s,
            None => self.sock.insert(Socket::open(netlink::NETLINK_GENERIC)?),
        };
        let family = match self.family {
            Some(f) => f,
            None => *self
                .family
                .insert(netlink::genl_family(sock, &mut self.req, "nl80211")?),
        };
        let dump = netlink::NLM_F_REQUEST | netlink::NLM_F_DUMP;
        self.ifaces.clear();
        self.stations.clear();
        netlink::request(&mut self.req, family, dump, &[CMD_GET_INTERFACE, 0, 0, 0]);
        let ifaces = &mut self.ifaces;
        sock.exchange(&mut self.req, |m| {
            let i = parse_interface(m.payload)?;
            // Some virtual interfaces (P2P devices) have no name and are skipped.
            if !i.name().is_empty() {
                ifaces.push((i, None, 0));
            }
            Ok(())
        })?;
        for k in 0..self.ifaces.len() {
            let Some(&(iface, _, _)) = self.ifaces.get(k) else {
                break;
            };
            let index = iface.index.to_ne_bytes();
            netlink::request(&mut self.req, family, dump, &[CMD_GET_SCAN, 0, 0, 0]);
            netlink::put_attr(&mut self.req, ATTR_IFINDEX, &index);
            let mut bss = None;
            let r = sock.exchange(&mut self.req, |m| {
                if bss.is_none() {
                    bss = parse_scan_result(m.payload)?;
                }
                Ok(())
            });
            match r {
                Err(e) if !skippable(&e) => return Err(e),
                _ => {}
            }
            netlink::request(&mut self.req, family, dump, &[CMD_GET_STATION, 0, 0, 0]);
            netlink::put_attr(&mut self.req, ATTR_IFINDEX, &index);
            let stations = &mut self.stations;
            let r = sock.exchange(&mut self.req, |m| {
                if let Some(s) = parse_station(m.payload)? {
                    stations.push((k, s));
                }
                Ok(())
            });
            match r {
                Err(e) if !skippable(&e) => return Err(e),
                _ => {}
            }
            let n = self.stations.iter().filter(|(i, _)| *i == k).count();
            if let Some(slot) = self.ifaces.get_mut(k) {
                (slot.1, slot.2) = (bss, n);
            }
        }
        Ok(())
    }
}

type StationValue = fn(&Station) -> f64;

const STATION_FAMILIES: [(&str, &str, Kind, StationValue); 10] = [
    (
        "node_wifi_station_connected_seconds_total",
        "The total number of seconds a station has been connected to an access point.",
        Kind::Counter,
        |s| f64::from(s.connected_s),
    ),
    (
        "node_wifi_station_inactive_seconds",
        "The number of seconds since any wireless activity has occurred on a station.",
        Kind::Gauge,
        |s| f64::from(s.inactive_ms) / 1000.0,
    ),
    (
        "node_wifi_station_receive_bits_per_second",
        "The current WiFi receive bitrate of a station, in bits per second.",
        Kind::Gauge,
        |s| s.rx_bits as f64,
    ),
    (
        "node_wifi_station_transmit_bits_per_second",
        "The current WiFi transmit bitrate of a station, in bits per second.",
        Kind::Gauge,
        |s| s.tx_bits as f64,
    ),
    (
        "node_wifi_station_receive_bytes_total",
        "The total number of bytes received by a WiFi station.",
        Kind::Counter,
        |s| s.rx_bytes as f64,
    ),
    (
        "node_wifi_station_transmit_bytes_total",
        "The total number of bytes transmitted by a WiFi station.",
        Kind::Counter,
        |s| s.tx_bytes as f64,
    ),
    (
        "node_wifi_station_signal_dbm",
        "The current WiFi signal strength, in decibel-milliwatts (dBm).",
        Kind::Gauge,
        |s| f64::from(s.signal_dbm),
    ),
    (
        "node_wifi_station_transmit_retries_total",
        "The total number of times a station has had to retry while sending a packet.",
        Kind::Counter,
        |s| f64::from(s.tx_retries),
    ),
    (
        "node_wifi_station_transmit_failed_total",
        "The total number of times a station has failed to send a packet.",
        Kind::Counter,
        |s| f64::from(s.tx_failed),
    ),
    (
        "node_wifi_station_beacon_loss_total",
        "The total number of times a station has detected a beacon loss.",
        Kind::Counter,
        |s| f64::from(s.beacon_loss),
    ),
];

/// Writes the node_wifi_* families and proctap_wifi_stations for the dumped interfaces and
/// stations (`ifaces`: interface, its BSS, its number of stations).
pub fn write(
    ifaces: &[(Iface, Option<Bss>, usize)],
    stations: &[(usize, Station)],
    out: &mut Encoder,
) {
    let name = |k: usize| {
        ifaces
            .get(k)
            .map_or(std::borrow::Cow::Borrowed(""), |(i, _, _)| {
                String::from_utf8_lossy(i.name())
            })
    };
    out.family(
        "node_wifi_interface_frequency_hertz",
        "The current frequency a WiFi interface is operating at, in hertz.",
        Kind::Gauge,
    );
    for (k, (i, _, _)) in ifaces.iter().enumerate() {
        out.f64(&[("device", &name(k))], f64::from(i.freq_mhz) * 1e6);
    }
    if ifaces.iter().any(|(_, b, _)| b.is_some()) {
        out.family(
            "node_wifi_station_info",
            "Labeled WiFi interface station information as provided by the operating system.",
            Kind::Gauge,
        );
        for (k, (_, b, _)) in ifaces.iter().enumerate() {
            let Some(b) = b else { continue };
            let mut m = [0u8; 17];
            let labels = [
                ("device", &*name(k)),
                ("bssid", mac_str(&b.bssid, &mut m)),
                ("ssid", &String::from_utf8_lossy(b.ssid())),
                ("mode", b.mode()),
            ];
            out.u64(&labels, 1);
        }
    }
    if !stations.is_empty() {
        for (fam, help, kind, value) in STATION_FAMILIES {
            out.family(fam, help, kind);
            for (k, s) in stations {
                let mut m = [0u8; 17];
                out.f64(
                    &[
                        ("device", &name(*k)),
                        ("mac_address", mac_str(&s.mac, &mut m)),
                    ],
                    value(s),
                );
            }
        }
    }
    out.family(
        "proctap_wifi_stations",
        "Stations of a WiFi interface (an access point's clients, a client's access point), 0 included.",
        Kind::Gauge,
    );
    for (k, (_, _, n)) in ifaces.iter().enumerate() {
        out.u64(&[("device", &name(k))], *n as u64);
    }
}

impl Collect for Wifi {
    fn collect(&mut self, _ctx: &mut Ctx, out: &mut Encoder) -> Result<(), Error> {
        if let Err(e) = self.dump() {
            // The family id is looked up again after a failure (the module may be reloaded).
            self.family = None;
            return Err(e.into_error("netlink nl80211"));
        }
        write(&self.ifaces, &self.stations, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::build::{attr, nest, str_a, u32a, u64a};

    fn genl(cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![cmd, 1, 0, 0];
        for a in attrs {
            p.extend_from_slice(a);
        }
        p
    }

    const AP_MAC: [u8; 6] = [0x02, 0x11, 0x32, 0xab, 0xcd, 0xef];

    fn iface_msg(index: u32, name: &str, freq: Option<u32>) -> Vec<u8> {
        let mut a = vec![
            u32a(1, 0), // NL80211_ATTR_WIPHY
            u32a(ATTR_IFINDEX, index),
            str_a(ATTR_IFNAME, name),
            u32a(5, 2), // NL80211_ATTR_IFTYPE: station
            attr(ATTR_MAC, &[0x02, 0, 0, 0, 0, index as u8]),
            u64a(153, 1), // NL80211_ATTR_WDEV
        ];
        if let Some(f) = freq {
            a.push(u32a(ATTR_WIPHY_FREQ, f));
        }
        genl(7, &a)
    }

    /// A scan result for one BSS: BSSID, frequency, its IEs (SSID, supported rates), status.
    fn bss_msg(bssid: [u8; 6], ssid: &[u8], status: Option<u32>) -> Vec<u8> {
        let mut ies = vec![IE_SSID, ssid.len() as u8];
        ies.extend_from_slice(ssid);
        ies.extend([1, 4, 0x82, 0x84, 0x8b, 0x96]);
        let mut inner = vec![
            attr(BSS_BSSID, &bssid),
            u32a(2, 5180),                  // NL80211_BSS_FREQUENCY
            attr(4, &100u16.to_ne_bytes()), // NL80211_BSS_BEACON_INTERVAL
            attr(BSS_INFORMATION_ELEMENTS, &ies),
            attr(7, &(-5400i32).to_ne_bytes()), // NL80211_BSS_SIGNAL_MBM
        ];
        if let Some(s) = status {
            inner.push(u32a(BSS_STATUS, s));
        }
        genl(34, &[u32a(ATTR_IFINDEX, 3), nest(ATTR_BSS, &inner)])
    }

    fn rate(units32: Option<u32>, units16: u16) -> Vec<Vec<u8>> {
        let mut r = vec![attr(RATE_BITRATE, &units16.to_ne_bytes()), attr(2, &[7])]; // MCS
        if let Some(u) = units32 {
            r.push(u32a(RATE_BITRATE32, u));
        }
        r
    }

    fn station_msg(mac: [u8; 6], bytes64: bool) -> Vec<u8> {
        let mut info = vec![
            u32a(STA_INACTIVE_TIME, 1520),
            u32a(STA_RX_BYTES, 3_000_000),
            u32a(STA_TX_BYTES, 4_000_000),
            attr(STA_SIGNAL, &[(-52i8) as u8]),
            nest(STA_TX_BITRATE, &rate(Some(8667), 8667)),
            u32a(9, 12_000), // NL80211_STA_INFO_RX_PACKETS, not exported
            u32a(STA_TX_RETRIES, 31),
            u32a(STA_TX_FAILED, 2),
            nest(STA_RX_BITRATE, &rate(None, 1300)),
            u32a(STA_CONNECTED_TIME, 86_400),
            u32a(STA_BEACON_LOSS, 1),
        ];
        if bytes64 {
            info.push(u64a(STA_RX_BYTES64, 5_000_000_000));
            info.push(u64a(STA_TX_BYTES64, 6_000_000_000));
        }
        genl(
            19,
            &[
                u32a(ATTR_IFINDEX, 3),
                attr(ATTR_MAC, &mac),
                nest(ATTR_STA_INFO, &info),
            ],
        )
    }

    #[test]
    fn interfaces_with_and_without_a_frequency() {
        let i = parse_interface(&iface_msg(3, "wlan0", Some(5180))).unwrap();
        assert_eq!((i.index, i.name(), i.freq_mhz), (3, &b"wlan0"[..], 5180));
        let i = parse_interface(&iface_msg(7, "phy0-ap0", None)).unwrap();
        assert_eq!((i.name(), i.freq_mhz), (&b"phy0-ap0"[..], 0));
    }

    #[test]
    fn the_associated_bss_is_the_one_with_a_status() {
        assert_eq!(
            parse_scan_result(&bss_msg([9; 6], b"neighbour", None)).unwrap(),
            None
        );
        let b = parse_scan_result(&bss_msg(AP_MAC, b"caf\xc3\xa9-5G", Some(1)))
            .unwrap()
            .unwrap();
        assert_eq!(b.bssid, AP_MAC);
        assert_eq!(b.ssid(), "café-5G".as_bytes());
        assert_eq!(b.mode(), "client");
        let mut m = [0; 17];
        assert_eq!(mac_str(&b.bssid, &mut m), "02:11:32:ab:cd:ef");
        assert_eq!(
            parse_scan_result(&bss_msg(AP_MAC, b"x", Some(2)))
                .unwrap()
                .unwrap()
                .mode(),
            "ad-hoc"
        );
        // Hidden SSID (empty element) and elements cut short.
        assert_eq!(ssid_of(&[0, 0, 1, 1, 2]), Some(&[][..]));
        assert_eq!(ssid_of(&[1, 9, 0, 0]), None);
        assert_eq!(ssid_of(&[0]), None);
    }

    #[test]
    fn stations_prefer_64_bit_bytes_and_32_bit_bitrates() {
        let s = parse_station(&station_msg([0x3c, 0x22, 0xfb, 1, 2, 3], true))
            .unwrap()
            .unwrap();
        assert_eq!((s.rx_bytes, s.tx_bytes), (5_000_000_000, 6_000_000_000));
        assert_eq!((s.tx_bits, s.rx_bits), (866_700_000, 130_000_000));
        assert_eq!(
            (s.signal_dbm, s.connected_s, s.inactive_ms),
            (-52, 86_400, 1520)
        );
        assert_eq!((s.tx_retries, s.tx_failed, s.beacon_loss), (31, 2, 1));
        let s = parse_station(&station_msg([1; 6], false)).unwrap().unwrap();
        assert_eq!((s.rx_bytes, s.tx_bytes), (3_000_000, 4_000_000));
        // A station message without NL80211_ATTR_STA_INFO is skipped.
        assert_eq!(
            parse_station(&genl(19, &[attr(ATTR_MAC, &[1; 6])])).unwrap(),
            None
        );
    }

    #[test]
    fn garbage() {
        let e = |r: Result<Option<Station>, NlError>| r.unwrap_err().to_string();
        let bad = genl(19, &[nest(ATTR_STA_INFO, &[attr(STA_SIGNAL, &[])])]);
        assert_eq!(
            e(parse_station(&bad)),
            "NL80211_STA_INFO_SIGNAL: expected at least 1 bytes, found 0"
        );
        let bad = genl(
            19,
            &[nest(
                ATTR_STA_INFO,
                &[nest(STA_RX_BITRATE, &[attr(RATE_BITRATE, &[1])])],
            )],
        );
        assert_eq!(
            e(parse_station(&bad)),
            "NL80211_RATE_INFO_BITRATE: expected at least 2 bytes, found 1"
        );
        let mut bad = genl(19, &[]);
        bad.extend([40, 0, 21, 0]);
        assert_eq!(e(parse_station(&bad)), "attribute 21 of 40 bytes in 4 left");
        assert!(parse_interface(&genl(7, &[attr(ATTR_IFINDEX, &[1])])).is_err());
        for n in 0..40 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 13 + 5) as u8).collect();
            let _ = (
                parse_interface(&junk),
                parse_station(&junk),
                parse_scan_result(&junk),
            );
        }
    }

    #[test]
    fn an_access_point_with_two_clients_and_a_client_interface() {
        let ifaces = [
            (
                parse_interface(&iface_msg(3, "wlan0", Some(2437))).unwrap(),
                None,
                2,
            ),
            (
                parse_interface(&iface_msg(4, "wlan1", Some(5180))).unwrap(),
                parse_scan_result(&bss_msg(AP_MAC, b"uplink \"5G\"", Some(1))).unwrap(),
                1,
            ),
            (
                parse_interface(&iface_msg(5, "wlan2", None)).unwrap(),
                None,
                0,
            ),
        ];
        let st = |m| parse_station(&station_msg(m, true)).unwrap().unwrap();
        let stations = [
            (0, st([0xaa, 0, 0, 0, 0, 1])),
            (0, st([0xaa, 0, 0, 0, 0, 2])),
            (1, st(AP_MAC)),
        ];
        let mut out = Encoder::new();
        write(&ifaces, &stations, &mut out);
        let text = String::from_utf8(out.as_bytes().to_vec()).unwrap();
        for want in [
            "node_wifi_interface_frequency_hertz{device=\"wlan0\"} 2437000000\n",
            "node_wifi_interface_frequency_hertz{device=\"wlan2\"} 0\n",
            "node_wifi_station_info{device=\"wlan1\",bssid=\"02:11:32:ab:cd:ef\",ssid=\"uplink \\\"5G\\\"\",mode=\"client\"} 1\n",
            "node_wifi_station_signal_dbm{device=\"wlan0\",mac_address=\"aa:00:00:00:00:02\"} -52\n",
            "node_wifi_station_inactive_seconds{device=\"wlan1\",mac_address=\"02:11:32:ab:cd:ef\"} 1.52\n",
            "node_wifi_station_receive_bytes_total{device=\"wlan0\",mac_address=\"aa:00:00:00:00:01\"} 5000000000\n",
            "node_wifi_station_transmit_bits_per_second{device=\"wlan1\",mac_address=\"02:11:32:ab:cd:ef\"} 866700000\n",
            "# TYPE node_wifi_station_connected_seconds_total counter\n",
            "proctap_wifi_stations{device=\"wlan0\"} 2\n",
            "proctap_wifi_stations{device=\"wlan2\"} 0\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert_eq!(text.matches("# TYPE ").count(), 13);
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("node_wifi_station_beacon"))
                .count(),
            3
        );
    }

    #[test]
    fn live_kernel_without_cfg80211_is_unavailable_or_dumps() {
        let mut w = Wifi::default();
        let mut out = Encoder::new();
        match w.collect(&mut crate::collector::fixture_ctx(), &mut out) {
            Ok(()) => {
                assert!(String::from_utf8_lossy(out.as_bytes()).contains("proctap_wifi_stations"))
            }
            Err(e) => assert!(matches!(e, Error::Unavailable { .. }), "{e}"),
        }
    }
}
