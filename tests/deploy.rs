//! The deployment files as an operator gets them: the systemd unit passes
//! `systemd-analyze verify` (through deploy/verify.sh, with the binary just built at the
//! path the unit names), and says what the daemon relies on.

use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let found = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "systemd-analyze is not installed: deploy/verify.sh not run (apt-get install systemd)"
        );
        return;
    }
    let out = std::process::Command::new(repo().join("deploy/verify.sh"))
        .arg(env!("CARGO_BIN_EXE_relais"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("systemd-analyze verify ok"));
}

#[test]
fn the_unit_asks_for_what_the_daemon_provides() {
    let unit = std::fs::read_to_string(repo().join("deploy/relais.service")).unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for wanted in [
        "Type=notify",
        "NotifyAccess=main",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=60s",
        "DynamicUser=yes",
        "StateDirectory=relais",
        "ConfigurationDirectory=relais",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=yes",
        "RestrictNamespaces=yes",
        "UMask=0027",
        "EnvironmentFile=-/etc/relais/relais.env",
    ] {
        assert!(
            lines.contains(&wanted),
            "deploy/relais.service lacks {wanted}"
        );
    }
}
