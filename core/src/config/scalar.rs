//! Decoding of the scalar values that are not durations: booleans, log levels, `tls.auth` and the
//! listen address. Each takes the text after environment substitution.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::ClientAuth;

/// The listen address when `address` is unset or empty.
pub(super) const DEFAULT_ADDRESS: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7373);

/// A YAML boolean as yaml.v3 decodes one into a Go `bool`: YAML 1.2 `true`/`false` plus the YAML 1.1
/// words (`yes`/`no`, `on`/`off`, `y`/`n`) in the three spellings YAML allows. Empty is `false`.
pub(super) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "" => Some(false),
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => {
            Some(false)
        }
        _ => None,
    }
}

/// A log level in Go `slog` numbering (debug -4, info 0, warn 4, error 8), case-insensitive.
///
/// KES adds `""` and `on` (info), `off` (error+1, so nothing is logged: audit events are info and
/// errors are error) and plain integers. A name may carry an offset: `info+2`, `ERROR-1`.
pub(super) fn parse_level(s: &str) -> Option<i32> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "" | "on" => return Some(0),
        "off" => return Some(9),
        _ => {}
    }
    if let Ok(level) = lower.parse::<i32>() {
        return Some(level);
    }
    let (name, offset) = match lower.find(['+', '-']) {
        Some(at) => lower.split_at_checked(at)?,
        None => (lower.as_str(), ""),
    };
    let base = match name {
        "debug" => -4,
        "info" => 0,
        "warn" => 4,
        "error" => 8,
        _ => return None,
    };
    if offset.is_empty() {
        return Some(base);
    }
    // Go's strconv.Atoi: the offset keeps its sign and needs at least one digit.
    let digits = offset.get(1..)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    base.checked_add(offset.parse::<i32>().ok()?)
}

/// `tls.auth`: empty or `off` accepts any client certificate, `on` verifies it; case-insensitive.
pub(super) fn parse_client_auth(s: &str) -> Option<ClientAuth> {
    match s.to_ascii_lowercase().as_str() {
        "" | "off" => Some(ClientAuth::DangerAnyCertificate),
        "on" => Some(ClientAuth::Verify),
        _ => None,
    }
}

/// Why an address was rejected; the text completes "invalid address '<x>': ".
pub(super) type AddressError = String;

/// An `ip:port` listen address. The host must be an IP literal (IPv6 in brackets) or empty, which
/// means all IPv4 interfaces, as KES's default `0.0.0.0:7373` does. Host names are refused because
/// KES refuses them ("'x' is not a valid IP address").
pub(super) fn parse_address(s: &str) -> Result<SocketAddr, AddressError> {
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err("missing port, for example '0.0.0.0:7373'".into());
    };
    let host = match host.strip_prefix('[') {
        Some(bracketed) => bracketed
            .strip_suffix(']')
            .ok_or_else(|| "missing ']' after an IPv6 address".to_owned())?,
        None if host.contains(':') => {
            return Err("an IPv6 address must be in brackets, for example '[::1]:7373'".into())
        }
        None => host,
    };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{port}' is not a valid port"));
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("'{port}' is not a valid port"))?;
    let ip = if host.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        host.parse::<IpAddr>()
            .map_err(|_| format!("'{host}' is not a valid IP address"))?
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    #[test]
    fn booleans() {
        for yes in [
            "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y",
        ] {
            assert_eq!(parse_bool(yes), Some(true), "{yes}");
        }
        for no in [
            "", "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N",
        ] {
            assert_eq!(parse_bool(no), Some(false), "{no}");
        }
        for bad in ["tRUE", "1", "0", "enabled", " true", "yes please", "t", "f"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn log_levels() {
        let cases: &[(&str, i32)] = &[
            ("", 0),
            ("on", 0),
            ("ON", 0),
            ("off", 9),
            ("Off", 9),
            ("debug", -4),
            ("DEBUG", -4),
            ("info", 0),
            ("Info", 0),
            ("warn", 4),
            ("WARN", 4),
            ("error", 8),
            ("ERROR", 8),
            ("info+2", 2),
            ("INFO+2", 2),
            ("error-1", 7),
            ("debug-4", -8),
            ("warn+0", 4),
            ("warn+004", 8),
            ("0", 0),
            ("12", 12),
            ("-4", -4),
            ("+3", 3),
        ];
        for (input, level) in cases {
            assert_eq!(parse_level(input), Some(*level), "{input}");
        }
        let bad = [
            "verbose",
            "warning",
            "info+",
            "info-",
            "info+x",
            "info+-1",
            "info++1",
            "on+1",
            "off-1",
            "+",
            "info 2",
            " info",
            "error+2147483647",
            "1.5",
            "trace",
        ];
        for input in bad {
            assert_eq!(parse_level(input), None, "{input}");
        }
    }

    #[test]
    fn client_auth() {
        for off in ["", "off", "OFF", "Off"] {
            assert_eq!(
                parse_client_auth(off),
                Some(ClientAuth::DangerAnyCertificate)
            );
        }
        for on in ["on", "ON", "oN"] {
            assert_eq!(parse_client_auth(on), Some(ClientAuth::Verify));
        }
        for bad in ["true", "verify", " on", "yes"] {
            assert_eq!(parse_client_auth(bad), None, "{bad}");
        }
    }

    #[test]
    fn addresses() {
        let v4 = |a, b, c, d, port| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), port);
        assert_eq!(parse_address("0.0.0.0:7373"), Ok(DEFAULT_ADDRESS));
        assert_eq!(parse_address(":7373"), Ok(DEFAULT_ADDRESS));
        assert_eq!(parse_address("127.0.0.1:0"), Ok(v4(127, 0, 0, 1, 0)));
        assert_eq!(parse_address("10.1.2.3:65535"), Ok(v4(10, 1, 2, 3, 65535)));
        assert_eq!(
            parse_address("[::1]:7373"),
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7373))
        );
        assert_eq!(
            parse_address("[::]:443"),
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 443))
        );

        let errors = [
            ("localhost:7373", "'localhost' is not a valid IP address"),
            (
                "kes.example.com:7373",
                "'kes.example.com' is not a valid IP address",
            ),
            ("127.0.0.1", "missing port, for example '0.0.0.0:7373'"),
            ("", "missing port, for example '0.0.0.0:7373'"),
            ("127.0.0.1:", "'' is not a valid port"),
            ("127.0.0.1:https", "'https' is not a valid port"),
            ("127.0.0.1:65536", "'65536' is not a valid port"),
            ("127.0.0.1:+80", "'+80' is not a valid port"),
            (
                "::1:7373",
                "an IPv6 address must be in brackets, for example '[::1]:7373'",
            ),
            ("[::1:7373", "missing ']' after an IPv6 address"),
            ("256.0.0.1:80", "'256.0.0.1' is not a valid IP address"),
        ];
        for (input, message) in errors {
            assert_eq!(parse_address(input), Err(message.to_owned()), "{input}");
        }
    }
}
