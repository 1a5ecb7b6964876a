//! `pat create`.

use clap::Args;
use cybedefend_core::platform::user;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::exit::Exit;
use crate::output::Printer;

/// `pat create`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Without --store the new PAT is printed on stdout, once: the platform never shows it again.
With --store it goes straight to the keyring (`keyring`), credentials.json (`file`) or a
provider of `credentials.providers` that can store, becomes the stored login, and is never
printed. If it cannot be stored, it is revoked, so no unknown PAT is left behind.

Examples:
  # the PAT into a file only you can read
  (umask 077; cybedefend pat create --name ci-nightly --expires 90d > pat.txt)
  cybedefend pat create --name laptop --store keyring
  cybedefend pat create --name release --expires 2026-12-31 --json")]
pub(crate) struct CreateArgs {
    /// Name of the PAT (unique for the account)
    #[arg(long, value_name = "NAME", value_parser = data::name)]
    pub(crate) name: String,
    /// When it expires: days (90d), weeks (12w), a date (YYYY-MM-DD, the end of that day UTC)
    /// or a time (RFC 3339), at least a day away [default: never]
    #[arg(long, value_name = "WHEN")]
    pub(crate) expires: Option<String>,
    /// Keep it instead of printing it: `keyring`, `file`, or a provider that can store
    #[arg(long, value_name = "STORE")]
    pub(crate) store: Option<String>,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

/// Longest lifetime accepted (the platform may allow less).
const MAX_DAYS: i64 = 3660;

/// `--expires` as milliseconds since the epoch: `Nd` (days), `Nw` (weeks), or a date
/// (`YYYY-MM-DD`, the end of that day in UTC, or an RFC 3339 time); in the future and at most ten
/// years away. A bare number, seconds, minutes and hours are refused: a PAT that expires in 90
/// seconds is never what was meant.
fn expires_at(value: &str, now: time::OffsetDateTime) -> Result<i64> {
    let v = value.trim();
    let day = time::macros::format_description!("[year]-[month]-[day]");
    let count = |suffix: char| {
        v.strip_suffix(suffix)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n > 0)
    };
    let looks_like_date = v.len() == 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-';
    let at = if let Ok(d) = time::Date::parse(v, &day) {
        if d <= now.date() {
            return Err(Error::usage(format!(
                "--expires {v}: the date must be after today"
            )));
        }
        d.with_hms(23, 59, 59)
            .map_err(|_| Error::usage("--expires: not a date"))?
            .assume_utc()
    } else if looks_like_date {
        return Err(Error::usage(format!(
            "--expires {}: not a valid date",
            cybedefend_core::text::one_line(v, 40)
        )));
    } else if let Ok(t) =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
    {
        t
    } else if let Some(n) = count('d').filter(|n| *n <= MAX_DAYS) {
        now + time::Duration::days(n)
    } else if let Some(n) = count('w').filter(|n| *n <= MAX_DAYS / 7) {
        now + time::Duration::weeks(n)
    } else if count('d').is_some() || count('w').is_some() {
        return Err(Error::usage(format!(
            "--expires {} is more than ten years away",
            cybedefend_core::text::one_line(v, 40)
        )));
    } else {
        return Err(Error::usage(format!(
            "--expires {}: give days (90d), weeks (12w) or a date (2026-12-31)",
            cybedefend_core::text::one_line(v, 40)
        )));
    };
    if at - now < time::Duration::days(1) {
        return Err(Error::usage(format!(
            "--expires {v} is less than a day away (or in the past)"
        ))
        .with_hint(
            "a PAT should live at least a day; give days (90d), weeks (12w) or a later date",
        ));
    }
    if at - now > time::Duration::days(MAX_DAYS) {
        return Err(Error::usage(format!(
            "--expires {v} is more than ten years away"
        )));
    }
    Ok((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: CreateArgs) -> Result<Exit> {
    let expires = args
        .expires
        .as_deref()
        .map(|e| expires_at(e, time::OffsetDateTime::now_utc()))
        .transpose()?;
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    if let Some(store) = &args.store {
        // Where the PAT would go is checked before a PAT exists.
        crate::session::check_store(&app, store, &connected.endpoints)
            .await
            .map_err(|e| e.context("nothing was created"))?;
    }
    let api = app.api(&connected);
    // From the request that creates the PAT until it is shown, stored or revoked, a signal
    // waits: stopping in between would leave a PAT nobody has, or one stored nowhere.
    let _shield = cybedefend_core::shield::enter(
        app.http.timeout() * cybedefend_core::platform::ATTEMPTS * 3,
    );
    let created = user::create_pat(&api, &args.name, expires).await?;
    // The new PAT is shown or stored only when it is one word of visible ASCII of a sane
    // length: anything else (escape sequences for the terminal, bidirectional controls, a
    // page of text) is the server's fault, and the PAT it made is revoked at once.
    if let Err(why) = check_new_pat(created.secret.expose()) {
        let revoked = user::revoke_pat(&api, &args.name).await;
        let what = match revoked {
            Ok(_) => "it was revoked, and is not shown".to_owned(),
            Err(r) => format!(
                "revoking it failed ({}); revoke it with `cybedefend pat revoke --name {}`",
                r.message(),
                args.name
            ),
        };
        return Err(
            Error::failure(format!("the server answered a PAT that {why}; {what}"))
                .with_hint("report this to CybeDefend; create the PAT in the web app meanwhile"),
        );
    }
    match &args.store {
        None => {
            if args.out.json {
                app.out.secret_json(&created.raw)?;
            } else {
                app.out.secret(created.secret.expose());
            }
            let note = if cybedefend_core::stdio::stdout().is_terminal() {
                "; copy it now: it is not shown again"
            } else {
                ""
            };
            app.out.success(&format!(
                "PAT `{}` created ({}), {}{note}",
                args.name,
                created.secret.fingerprint(),
                expiry_text(expires)
            ));
            Ok(Exit::Success)
        }
        Some(store) => {
            let endpoints = connected.endpoints.clone();
            match crate::session::keep_pat(
                &app,
                Some(store),
                &endpoints,
                created.secret.clone(),
                false,
            )
            .await
            {
                Ok(code) => {
                    if args.out.json {
                        app.out.json(&created.masked)?;
                    }
                    Ok(code)
                }
                Err(e) => {
                    let revoked = user::revoke_pat(&api, &args.name).await;
                    let what = match revoked {
                        Ok(_) => "it was revoked again, so nothing is left behind".to_owned(),
                        Err(r) => format!(
                            "revoking it failed too ({}); revoke it with `cybedefend pat revoke --name {}`",
                            r.message(),
                            args.name
                        ),
                    };
                    Err(Error::new(
                        e.kind(),
                        format!(
                            "the PAT `{}` was created but could not be stored: {}; {what}",
                            args.name,
                            e.message()
                        ),
                    )
                    .with_hint(e.hint().unwrap_or("check --store").to_owned()))
                }
            }
        }
    }
}

/// Why a PAT the server made may not be printed or stored: not visible ASCII, more than one
/// word, too short or too long.
fn check_new_pat(pat: &str) -> std::result::Result<(), String> {
    const MAX: usize = 1024;
    if pat.len() < 8 || pat.len() > MAX {
        return Err(format!(
            "is {} characters long (a PAT has 8 to {MAX})",
            pat.chars().count()
        ));
    }
    if let Some(c) = pat.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(if c.is_whitespace() {
            "holds spaces or line breaks".to_owned()
        } else {
            format!(
                "holds a character other than visible ASCII (U+{:04X})",
                u32::from(c)
            )
        });
    }
    Ok(())
}

/// "expires 2027-02-26" or "never expires".
fn expiry_text(ms: Option<i64>) -> String {
    ms.and_then(|ms| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
    })
    .map_or_else(
        || "never expires".to_owned(),
        |t| {
            format!(
                "expires {}",
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_else(|_| t.date().to_string())
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_a_future_time_at_most_ten_years_away() {
        let now = time::macros::datetime!(2026-11-28 12:00 UTC);
        assert_eq!(
            expires_at("1d", now).unwrap(),
            (now + time::Duration::days(1)).unix_timestamp() * 1000
        );
        assert!(expires_at("2026-12-31", now).is_ok());
        assert!(expires_at("2026-01-01", now).is_err());
        assert!(expires_at("4000d", now).is_err());
        assert_eq!(
            expires_at("90d", now).unwrap(),
            (now + time::Duration::days(90)).unix_timestamp() * 1000
        );
        assert!(expires_at("0d", now).is_err());
        assert!(expires_at("soon", now).is_err());
        assert!(expires_at("99999999999999d", now).is_err());
        for short in ["90", "90s", "3m", "12h", "31/12/2026"] {
            assert!(expires_at(short, now).is_err(), "{short}");
        }
        assert_eq!(
            expires_at("2w", now).unwrap(),
            (now + time::Duration::weeks(2)).unix_timestamp() * 1000
        );
        assert!(expires_at("2027-01-01T00:00:00Z", now).is_ok());
        for bad in ["2026-11-28", "2026-11-28T13:30:00Z", "+90d", "2026-02-30"] {
            assert!(expires_at(bad, now).is_err(), "{bad}");
        }
    }
}
