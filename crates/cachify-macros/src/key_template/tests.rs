//! The template compiler's unit tests, and the property test that no text panics it.

use super::*;

fn idents(names: &[&str]) -> Vec<Ident> {
    names
        .iter()
        .map(|n| Ident::new(n, Span::call_site()))
        .collect()
}

fn compile(template: &str, args: &[&str], receiver: bool) -> Result<String, TemplateError> {
    let args = idents(args);
    let fn_name = Ident::new("f", Span::call_site());
    let scope = Scope {
        args: &args,
        has_receiver: receiver,
        fn_name: &fn_name,
    };
    let pieces = resolve(parse(template)?, scope, Span::call_site())?;
    let template = KeyTemplate {
        pieces,
        span: Span::call_site(),
    };
    Ok(template.format_args().to_string())
}

fn args_of(expanded: &str) -> String {
    expanded
        .split_once(',')
        .map_or("", |(_, rest)| rest)
        .replace(' ', "")
}

#[test]
fn named_placeholders_become_holes() {
    let out = compile("sum-{a}-{b}", &["a", "b"], false).unwrap();
    assert!(out.contains("\"sum-{}-{}\""), "{out}");
    assert_eq!(args_of(&out), "a,b)");
}

#[test]
fn positional_and_indexed_follow_argument_order() {
    let out = compile("{}-{}-{0}", &["a", "b"], true).unwrap();
    assert_eq!(args_of(&out), "a,b,a)");
}

#[test]
fn field_access_tuple_fields_and_receiver() {
    let out = compile(
        "{self.id}/{for_date.year}/{pair.0}/{self.0.1}",
        &["for_date", "pair"],
        true,
    )
    .unwrap();
    assert_eq!(args_of(&out), "self.id,for_date.year,pair.0,self.0.1)");
}

#[test]
fn format_specs_and_escapes_are_kept() {
    let out = compile("{{x}}-{x:?}-{n:04}", &["x", "n"], false).unwrap();
    assert!(out.contains("\"{{x}}-{:?}-{:04}\""), "{out}");
}

#[test]
fn constant_key_has_no_holes() {
    let out = compile("sum_two", &["a"], false).unwrap();
    assert!(out.contains("(\"sum_two\")"), "{out}");
}

#[test]
fn errors() {
    let err = |t: &str, args: &[&str], r: bool| compile(t, args, r).unwrap_err();
    assert_eq!(
        err("{c}", &["a"], false),
        TemplateError::UnknownName("c".into())
    );
    assert_eq!(
        err("{c.0}", &["a"], false),
        TemplateError::UnknownName("c.0".into())
    );
    assert_eq!(err("{self.id}", &["a"], false), TemplateError::NoReceiver);
    assert_eq!(
        err("{}-{}", &["a"], false),
        TemplateError::Positional { wanted: 1, have: 1 }
    );
    assert_eq!(err("{a", &["a"], false), TemplateError::Unclosed);
    assert_eq!(err("a}", &["a"], false), TemplateError::UnmatchedClose);
    for bad in [
        "{a-b}", "{a.}", "{a.01}", "{a.-1}", "{1a}", "{a.fn}", "{_}", "{a{b}", "{a.self}",
    ] {
        assert!(
            matches!(err(bad, &["a"], true), TemplateError::BadPlaceholder(_)),
            "{bad}"
        );
    }
}

#[test]
fn unknown_name_message_lists_the_arguments() {
    let fn_name = Ident::new("sum_two", Span::call_site());
    let args = idents(&["a", "b"]);
    let scope = Scope {
        args: &args,
        has_receiver: false,
        fn_name: &fn_name,
    };
    let message = TemplateError::UnknownName("c".into()).render(scope);
    assert_eq!(
        message,
        "key placeholder `{c}` names no argument; the arguments of `sum_two` are `a`, `b`"
    );
}

/// Every string is either a template or an error: never a panic. Exhaustive over
/// short strings of the characters that matter, then pseudo-random longer ones.
#[test]
fn arbitrary_templates_never_panic() {
    const ALPHABET: &[char] = &[
        '{', '}', ':', '.', '0', '9', 'a', '_', 's', ' ', '?', '-', 'é', '٣', '\u{300}',
    ];
    let check = |template: &str| {
        let result = std::panic::catch_unwind(|| {
            let _ = compile(template, &["a", "s"], true);
            let _ = compile(template, &[], false);
        });
        assert!(result.is_ok(), "panicked on {template:?}");
    };
    let mut template = String::new();
    let mut counter = vec![0usize; 0];
    for len in 0..=4 {
        counter.clear();
        counter.resize(len, 0);
        loop {
            template.clear();
            template.extend(counter.iter().map(|&i| ALPHABET[i]));
            check(&template);
            let Some(pos) = counter.iter().rposition(|&i| i + 1 < ALPHABET.len()) else {
                break;
            };
            counter[pos] += 1;
            counter[pos + 1..].iter_mut().for_each(|i| *i = 0);
        }
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 24) as usize;
        let template: String = (0..len)
            .map(|_| match next() % 4 {
                0 => char::from_u32((next() % 0x11_0000) as u32).unwrap_or('x'),
                _ => ALPHABET[(next() % ALPHABET.len() as u64) as usize],
            })
            .collect();
        check(&template);
    }
}

#[test]
fn the_literal_start_is_the_text_before_the_first_placeholder() {
    let literal_start = |template: &str| {
        let args = idents(&["a", "b"]);
        let fn_name = Ident::new("f", Span::call_site());
        let scope = Scope {
            args: &args,
            has_receiver: false,
            fn_name: &fn_name,
        };
        let pieces = resolve(parse(template).unwrap(), scope, Span::call_site()).unwrap();
        let template = KeyTemplate {
            pieces,
            span: Span::call_site(),
        };
        template.literal_start()
    };
    assert_eq!(literal_start("user-{a}-{b}"), ("user-".into(), true));
    assert_eq!(literal_start("{{x}}-{a}"), ("{x}-".into(), true));
    assert_eq!(literal_start("{a}-user"), (String::new(), true));
    assert_eq!(literal_start("settings"), ("settings".into(), false));
}
