//! The wire format is the contract: these tests pin the exact JSON of every message, and what
//! is tolerated (unknown fields, unknown kinds and actions).

use super::*;

#[derive(Default)]
struct Fixed;

impl Provider for Fixed {
    fn get(&self, request: &Request) -> Result<Found, Error> {
        match request.option("mode") {
            Some("none") => Err(Error::not_found("nothing for this project")),
            Some("panic") => panic!("boom"),
            _ => Ok(Found::new(Credential::pat("cdp_fixed_000001"), "fixed")),
        }
    }
}

#[derive(Default)]
struct Keeper;

impl Provider for Keeper {
    fn get(&self, _: &Request) -> Result<Found, Error> {
        Err(Error::not_found("empty"))
    }
    fn store(&self, _: &Request, c: &Credential) -> Result<(), Error> {
        assert_eq!(c.secret.expose(), "cdp_to_keep_0001");
        Ok(())
    }
    fn erase(&self, _: &Request) -> Result<bool, Error> {
        Ok(true)
    }
    fn stores(&self) -> bool {
        true
    }
}

#[test]
fn messages_have_the_pinned_json() {
    assert_eq!(
        serde_json::to_string(&Hello::new("corp", "1.2.0")).unwrap(),
        r#"{"v":[1],"name":"corp","version":"1.2.0"}"#
    );
    let req = Request::new(Action::Get, "corp", serde_json::json!({"role": "ci"})).with_context(
        "eu",
        "https://api-eu.cybedefend.com",
        false,
    );
    assert_eq!(
        serde_json::to_string(&req).unwrap(),
        r#"{"v":1,"action":"get","provider":"corp","config":{"role":"ci"},"context":{"region":"eu","api_url":"https://api-eu.cybedefend.com","interactive":false}}"#
    );
    let store = Request::new(Action::Store, "corp", serde_json::Value::Null)
        .with_credential(Credential::pat("cdp_x"));
    assert_eq!(
        serde_json::to_string(&store).unwrap(),
        r#"{"v":1,"action":"store","provider":"corp","config":null,"context":{"region":"","api_url":"","interactive":false},"credential":{"kind":"pat","secret":"cdp_x"}}"#
    );
    assert_eq!(
        serde_json::to_string(&Response::Ok(Answer::found(
            Credential::pat("cdp_y"),
            "here"
        )))
        .unwrap(),
        r#"{"ok":{"kind":"pat","secret":"cdp_y","detail":"here"}}"#
    );
    assert_eq!(
        serde_json::to_string(&Response::Ok(Answer::erased(true))).unwrap(),
        r#"{"ok":{"removed":true}}"#
    );
    assert_eq!(
        serde_json::to_string(&Response::Ok(Answer::stored())).unwrap(),
        r#"{"ok":{}}"#
    );
    assert_eq!(
        serde_json::to_string(&Response::Err(Error::not_found("none"))).unwrap(),
        r#"{"err":{"kind":"not-found","message":"none"}}"#
    );
}

#[test]
fn unknown_fields_kinds_and_actions_are_tolerated() {
    let req: Request = serde_json::from_str(
        r#"{"v":1,"action":"get","extra-field-ignored":123,"context":{"region":"us","new":true}}"#,
    )
    .unwrap();
    assert_eq!(req.action, Action::Get);
    assert_eq!(req.context.region, "us");
    assert!(req.config.is_null());
    let req: Request = serde_json::from_str(r#"{"v":1,"action":"frobnicate"}"#).unwrap();
    assert_eq!(req.action, Action::Unknown);
    let resp: Response =
        serde_json::from_str(r#"{"err":{"kind":"unknown-kind","message":"x"},"extra":1}"#).unwrap();
    assert_eq!(resp, Response::Err(Error::new(ErrorKind::Unknown, "x")));
    assert!(
        serde_json::from_str::<Response>(r#"{"ok":{},"err":{"kind":"io","message":"x"}}"#).is_err()
    );
    assert!(serde_json::from_str::<Response>(r#"{"extra":1}"#).is_err());
    let hello: Hello = serde_json::from_str(r#"{"v":[1,2],"features":["x"]}"#).unwrap();
    assert_eq!(hello.v, vec![1, 2]);
}

#[test]
fn respond_answers_every_case() {
    assert_eq!(
        respond(&Fixed, r#"{"v":1,"action":"get"}"#),
        r#"{"ok":{"kind":"pat","secret":"cdp_fixed_000001","detail":"fixed"}}"#
    );
    assert_eq!(
        respond(&Fixed, r#"{"v":1,"action":"get","config":{"mode":"none"}}"#),
        r#"{"err":{"kind":"not-found","message":"nothing for this project"}}"#
    );
    assert!(respond(&Fixed, r#"{"v":2,"action":"get"}"#).contains(r#""kind":"unsupported""#));
    assert!(respond(&Fixed, "garbage").contains(r#""kind":"usage""#));
    assert!(respond(&Fixed, r#"{"v":1,"action":"frobnicate"}"#).contains("unsupported"));
    assert!(
        respond(
            &Fixed,
            r#"{"v":1,"action":"store","credential":{"kind":"pat","secret":"cdp_z"}}"#
        )
        .contains("unsupported")
    );
    assert_eq!(
        respond(
            &Keeper,
            r#"{"v":1,"action":"store","credential":{"kind":"pat","secret":"cdp_to_keep_0001"}}"#
        ),
        r#"{"ok":{}}"#
    );
    assert_eq!(
        respond(&Keeper, r#"{"v":1,"action":"erase"}"#),
        r#"{"ok":{"removed":true}}"#
    );
}

#[test]
fn conformance_hooks_answer_without_real_work() {
    let ask = |action: &str, what: &str| {
        respond(
            &Fixed,
            &format!(
                r#"{{"v":1,"action":"{action}","config":{{"cybedefend-conformance":"{what}"}}}}"#
            ),
        )
    };
    assert!(ask("get", "found").contains("cdp_conformance_0000"));
    assert!(ask("get", "not-found").contains("not-found"));
    for kind in ErrorKind::ALL {
        let out = ask("get", &format!("error:{}", kind.as_str()));
        assert!(
            out.contains(&format!(r#""kind":"{}""#, kind.as_str())),
            "{out}"
        );
    }
    assert!(ask("store", "capabilities").contains("unsupported"));
    let keeper = respond(
        &Keeper,
        r#"{"v":1,"action":"erase","config":{"cybedefend-conformance":"capabilities"}}"#,
    );
    assert_eq!(keeper, r#"{"ok":{"removed":false}}"#);
}

#[test]
fn the_native_glue_round_trips_and_catches_panics() {
    let instance = native::create::<Fixed>();
    assert!(!instance.is_null());
    let request = br#"{"v":1,"action":"get","config":{"mode":"panic"}}"#;
    // SAFETY: a live instance of `Fixed` and a valid buffer.
    let buf =
        unsafe { native::call::<Fixed>(instance, request.as_ptr(), request.len(), Action::Get) };
    // SAFETY: the buffer came from `call`.
    let text = unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec();
    // SAFETY: freed once.
    unsafe { native::free(buf) };
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("the plugin panicked: boom"), "{text}");

    let request = br#"{"v":1,"action":"store"}"#;
    // SAFETY: as above; the action does not match the entry point.
    let buf =
        unsafe { native::call::<Fixed>(instance, request.as_ptr(), request.len(), Action::Get) };
    // SAFETY: as above.
    let text = unsafe { std::slice::from_raw_parts(buf.ptr, buf.len) }.to_vec();
    // SAFETY: as above.
    unsafe { native::free(buf) };
    assert!(String::from_utf8(text).unwrap().contains("does not match"));
    // SAFETY: destroyed once.
    unsafe { native::destroy::<Fixed>(instance) };
}

#[test]
fn secrets_do_not_show_in_debug() {
    let c = Credential::pat("cdp_never_shown_01");
    assert!(!format!("{c:?}").contains("cdp_never_shown_01"));
}

#[test]
fn debug_output_never_shows_a_secret_or_config_values() {
    let req = Request::new(
        Action::Store,
        "corp",
        serde_json::json!({"vault_token": "hvs.config_value_1234"}),
    )
    .with_credential(Credential::pat("cdp_debug_secret_0001"));
    let shown = format!("{req:?}");
    assert!(shown.contains("vault_token"), "{shown}");
    assert!(!shown.contains("hvs.config_value_1234"), "{shown}");
    assert!(!shown.contains("cdp_debug_secret_0001"), "{shown}");
    let answer = Answer::found(Credential::pat("cdp_debug_secret_0002"), "here");
    assert!(!format!("{answer:?}").contains("cdp_debug_secret_0002"));
}
