//! `pat create`.

use std::io::IsTerminal;

use clap::Args;
use cybedefend_core::duration::Span;
use cybedefend_core::platform::user;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::output::Printer;

/// `pat create`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Without --store the new PAT is printed on stdout, once: the platform never shows it again.
With --store it goes straight to the keyring (`keyring`), credentials.json (`file`) or a
provider of `credentials.providers` that can store, becomes the stored login, and is never
printed. If it cannot be stored, it is revoked, so no unknown PAT is left behind.

Examples:
  cybedefend pat create --name ci-nightly --expires 90d > pat.txt
  cybedefend pat create --name laptop --store keyring
  cybedefend pat create --name release --expires 2026-12-31 --json")]
pub(crate) struct CreateArgs {
    /// Name of the PAT (unique for the account)
    #[arg(long, value_name = "NAME", value_parser = data::name)]
    pub(crate) name: String,
    /// When it expires: a duration from now (90d, 12h) or a date (YYYY-MM-DD) [default: never]
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

/// `--expires` as milliseconds since the epoch: a future time at most ten years away.
fn expires_at(value: &str, now: time::OffsetDateTime) -> Result<i64> {
    let v = value.trim();
    let day = time::macros::format_description!("[year]-[month]-[day]");
    let days = v
        .strip_suffix('d')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0);
    let at = if let Ok(d) = time::Date::parse(v, &day) {
        d.with_hms(23, 59, 59)
            .map_err(|_| Error::usage("--expires: not a date"))?
            .assume_utc()
    } else if let Some(n) = days {
        if n > MAX_DAYS {
            return Err(Error::usage(format!(
                "--expires {v} is more than ten years away"
            )));
        }
        now + time::Duration::days(n)
    } else {
        let span: Span = v
            .parse()
            .map_err(|e: cybedefend_core::duration::SpanError| {
                Error::usage(format!("--expires: {e}"))
                    .with_hint("give a duration from now (90d, 12h) or a date (2026-12-31)")
            })?;
        let d = time::Duration::try_from(span.get())
            .map_err(|_| Error::usage("--expires is too far away"))?;
        now.checked_add(d)
            .ok_or_else(|| Error::usage("--expires is too far away"))?
    };
    if at <= now {
        return Err(Error::usage(format!("--expires {v} is in the past")));
    }
    if at - now > time::Duration::days(MAX_DAYS) {
        return Err(Error::usage(format!(
            "--expires {v} is more than ten years away"
        )));
    }
    Ok((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: CreateArgs) -> Result<u8> {
    let expires = args
        .expires
        .as_deref()
        .map(|e| expires_at(e, time::OffsetDateTime::now_utc()))
        .transpose()?;
    let app = App::load(global, out)?;
    let connected = app.connect().await?;
    if let Some(store) = &args.store {
        // Where the PAT would go is checked before a PAT exists.
        crate::commands::login::check_store(&app, store, &connected.endpoints)
            .await
            .map_err(|e| e.context("nothing was created"))?;
    }
    let api = app.api(&connected);
    let created = user::create_pat(&api, &args.name, expires).await?;
    match &args.store {
        None => {
            if args.out.json {
                app.out.secret_json(&created.raw)?;
            } else {
                app.out.secret(created.secret.expose());
            }
            let note = if std::io::stdout().is_terminal() {
                "; copy it now: it is not shown again"
            } else {
                ""
            };
            app.out.success(&format!(
                "PAT `{}` created ({}){note}",
                args.name,
                created.secret.fingerprint()
            ));
            Ok(0)
        }
        Some(store) => {
            let endpoints = connected.endpoints.clone();
            match crate::commands::login::pat_login(
                &app,
                Some(store),
                &endpoints,
                created.secret.clone(),
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
    }
}
