//! Parsing and validation of the arguments of `#[cached(...)]`.
//!
//! Everything here is pure: it takes syn values and returns either the validated
//! arguments or a `syn::Error` (possibly several, combined) spanned on the offending tokens.

use syn::{
    Attribute, Expr, ExprLit, ExprPath, ExprUnary, Ident, Lit, LitStr, Meta, Token, UnOp,
    punctuated::Punctuated,
};

use crate::errors::Errors;

/// The time-to-live a cached operation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    /// `ttl = default` or no `ttl` at all: `REDIS_CACHE_TTL`.
    Default,
    /// `ttl = dashboard`: `REDIS_CACHE_TTL_DASHBOARD`.
    Dashboard,
    /// `ttl = feeds`: `REDIS_CACHE_TTL_FEEDS`.
    Feeds,
    /// `ttl = <n>`: `n` seconds, `n > 0`.
    Seconds(u64),
}

/// The validated arguments of one `#[cached(...)]` attribute.
#[derive(Debug)]
pub(crate) struct CachedArgs {
    /// The cache name, e.g. `"dashboard/stats"`; validated by [`validate_name`].
    pub name: LitStr,
    pub ttl: Ttl,
    /// Path of the variant function (`fn(&poem::Request) -> impl Display`), if any.
    pub key: Option<ExprPath>,
    /// The tables the response reads (`reads = [nodes, node_tags]`), without duplicates;
    /// `None` when not declared (the response then depends on every table). Each is checked
    /// to be a table by the compiler, at the name, through `hub_core::tables::by_name`.
    pub reads: Option<Vec<Ident>>,
    /// `public`: the same response for every caller, keyed by path alone, sent with
    /// `Cache-Control: public, max-age=<ttl>`. Spanned for errors about it.
    pub public: Option<syn::Path>,
}

/// Characters a cache name must not contain besides whitespace: they have a meaning in the
/// Redis key layout (`:` separates key parts) or in Redis patterns (`*`, `{`, `}`).
const FORBIDDEN: [char; 4] = [':', '*', '{', '}'];

const TTL_FORMS: &str = "`ttl` must be `default`, `dashboard`, `feeds` or a positive integer literal (seconds), e.g. `ttl = 60`";
const KEY_FORM: &str = "`key` must be a path to a function `fn(&poem::Request) -> impl Display`, e.g. `key = role_key`";

/// Checks a cache name: non-empty, no `:` `*` `{` `}` and no whitespace.
pub(crate) fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("cache `name` must not be empty".to_owned());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || FORBIDDEN.contains(c))
    {
        return Err(format!(
            "cache `name` must not contain `:`, `*`, `{{`, `}}` or whitespace, found {c:?}"
        ));
    }
    Ok(())
}

/// Parses the value of `name = ...`.
pub(crate) fn parse_name(value: &Expr) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            validate_name(&s.value()).map_err(|msg| syn::Error::new_spanned(s, msg))?;
            Ok(s.clone())
        }
        other => Err(syn::Error::new_spanned(
            other,
            "`name` must be a string literal, e.g. `name = \"nodes\"`",
        )),
    }
}

/// Parses the value of `ttl = ...`.
pub(crate) fn parse_ttl(value: &Expr) -> syn::Result<Ttl> {
    match value {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
            match p.path.get_ident().map(|i| i.to_string()).as_deref() {
                Some("default") => Ok(Ttl::Default),
                Some("dashboard") => Ok(Ttl::Dashboard),
                Some("feeds") => Ok(Ttl::Feeds),
                _ => Err(syn::Error::new_spanned(p, TTL_FORMS)),
            }
        }
        // syn reads `-30` in an attribute as one negative literal.
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) if i.base10_digits().starts_with('-') => Err(syn::Error::new_spanned(
            value,
            "`ttl` must be a positive number of seconds, not negative",
        )),
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            let secs: u64 = i.base10_parse()?;
            if secs == 0 {
                return Err(syn::Error::new_spanned(
                    i,
                    "`ttl` must be at least 1 second; omit `ttl` for the default",
                ));
            }
            Ok(Ttl::Seconds(secs))
        }
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => Err(syn::Error::new_spanned(
            value,
            "`ttl` must be a positive number of seconds, not negative",
        )),
        other => Err(syn::Error::new_spanned(other, TTL_FORMS)),
    }
}

/// Parses a list of table names: bare identifiers (`nodes`, `node_tags`), each listed once.
/// Whether each names a table is left to the compiler (the expansion refers to
/// `hub_core::tables::by_name::<name>`), which reports a misspelling at the name with the
/// closest table as suggestion. `what` names the construct in messages, e.g. "`reads`".
pub(crate) fn parse_table_list<'a>(
    items: impl IntoIterator<Item = &'a Expr>,
    what: &str,
) -> syn::Result<Vec<Ident>> {
    let mut errors = Errors::default();
    let mut tables: Vec<Ident> = Vec::new();
    for item in items {
        match item {
            Expr::Path(p)
                if p.qself.is_none() && p.attrs.is_empty() && p.path.get_ident().is_some() =>
            {
                let ident = p.path.get_ident().cloned().expect("checked above");
                if tables.contains(&ident) {
                    errors.push(syn::Error::new_spanned(
                        &ident,
                        format!("duplicate table `{ident}` in {what}"),
                    ));
                } else {
                    tables.push(ident);
                }
            }
            other => errors.push(syn::Error::new_spanned(
                other,
                format!(
                    "{what} takes MeshCore Hub's table names as bare identifiers, e.g. \
                     `nodes, node_tags` (see hub_core::tables)"
                ),
            )),
        }
    }
    errors.finish()?;
    Ok(tables)
}

/// Parses the value of `reads = [...]`.
pub(crate) fn parse_reads(value: &Expr) -> syn::Result<Vec<Ident>> {
    match value {
        Expr::Array(array) if !array.elems.is_empty() => parse_table_list(&array.elems, "`reads`"),
        Expr::Array(array) => Err(syn::Error::new_spanned(
            array,
            "`reads` must list at least one table; a response that reads none is not worth caching",
        )),
        other => Err(syn::Error::new_spanned(
            other,
            "`reads` must be a list of tables, e.g. `reads = [nodes, node_tags]`",
        )),
    }
}

/// Parses and validates the arguments of `#[invalidates(a, b, ...)]`: a non-empty list of
/// the tables a write changes.
pub(crate) fn parse_invalidates_attr(attr: &Attribute) -> syn::Result<Vec<Ident>> {
    const FORM: &str = "#[invalidates] requires the tables a write changes, e.g. \
                        `#[invalidates(channels)]`";
    let list = match &attr.meta {
        Meta::List(list) => list,
        _ => return Err(syn::Error::new_spanned(attr, FORM)),
    };
    let items = list.parse_args_with(Punctuated::<Expr, Token![,]>::parse_terminated)?;
    if items.is_empty() {
        return Err(syn::Error::new_spanned(attr, FORM));
    }
    parse_table_list(&items, "#[invalidates]")
}

/// Parses the value of `key = ...`.
pub(crate) fn parse_key(value: &Expr) -> syn::Result<ExprPath> {
    match value {
        Expr::Path(p) if p.attrs.is_empty() => Ok(p.clone()),
        other => Err(syn::Error::new_spanned(other, KEY_FORM)),
    }
}

/// Parses and validates a whole `#[cached(...)]` attribute. Every problem found is reported,
/// not only the first.
pub(crate) fn parse_cached_attr(attr: &Attribute) -> syn::Result<CachedArgs> {
    let metas = match &attr.meta {
        Meta::List(list) => {
            list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)?
        }
        Meta::Path(_) => {
            return Err(syn::Error::new_spanned(
                attr,
                "#[cached] requires arguments: `#[cached(name = \"...\")]`",
            ));
        }
        Meta::NameValue(nv) => {
            return Err(syn::Error::new_spanned(
                nv,
                "expected `#[cached(name = \"...\", ...)]`",
            ));
        }
    };
    parse_metas(metas, attr)
}

/// Validates the `name = value` items of `#[cached(...)]`. `attr` is where a missing `name`
/// is reported.
pub(crate) fn parse_metas(
    metas: Punctuated<Meta, Token![,]>,
    attr: &Attribute,
) -> syn::Result<CachedArgs> {
    let mut errors = Errors::default();
    let mut name: Option<Option<LitStr>> = None;
    let mut ttl: Option<Option<Ttl>> = None;
    let mut key: Option<Option<ExprPath>> = None;
    let mut reads: Option<Option<Vec<Ident>>> = None;
    let mut public: Option<syn::Path> = None;

    for meta in metas {
        let path = meta.path().clone();
        let arg = path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        let arg = arg.as_str();
        if arg == "public" {
            if public.is_some() {
                errors.push(syn::Error::new_spanned(
                    &path,
                    "duplicate #[cached] argument `public`",
                ));
            } else if !matches!(meta, Meta::Path(_)) {
                errors.push(syn::Error::new_spanned(
                    &meta,
                    "`public` is a flag and takes no value: write `#[cached(name = \"...\", public)]`",
                ));
            }
            public.get_or_insert(path);
            continue;
        }
        if !matches!(arg, "name" | "ttl" | "key" | "reads") {
            errors.push(syn::Error::new_spanned(
                &path,
                format!(
                    "unknown #[cached] argument `{}`; expected `name`, `ttl`, `key`, `reads` or `public`",
                    quote::quote!(#path).to_string().replace(' ', "")
                ),
            ));
            continue;
        }
        let seen = match arg {
            "name" => name.is_some(),
            "ttl" => ttl.is_some(),
            "reads" => reads.is_some(),
            _ => key.is_some(),
        };
        if seen {
            errors.push(syn::Error::new_spanned(
                &path,
                format!("duplicate #[cached] argument `{arg}`"),
            ));
            continue;
        }
        let value = match &meta {
            Meta::NameValue(nv) => Some(&nv.value),
            _ => {
                let example = match arg {
                    "name" => "name = \"nodes\"",
                    "ttl" => "ttl = dashboard",
                    "reads" => "reads = [nodes, node_tags]",
                    _ => "key = role_key",
                };
                errors.push(syn::Error::new_spanned(
                    &meta,
                    format!("expected `{arg} = ...`, e.g. `{example}`"),
                ));
                None
            }
        };
        // Record that the argument was seen even when its value is bad, so a later repeat is
        // still reported as a duplicate and a bad `name` is not also reported as missing.
        match arg {
            "name" => name = Some(value.and_then(|v| errors.ok(parse_name(v)))),
            "ttl" => ttl = Some(value.and_then(|v| errors.ok(parse_ttl(v)))),
            "reads" => reads = Some(value.and_then(|v| errors.ok(parse_reads(v)))),
            _ => key = Some(value.and_then(|v| errors.ok(parse_key(v)))),
        }
    }

    if name.is_none() {
        errors.push(syn::Error::new_spanned(
            attr,
            "#[cached] requires a cache name: `name = \"...\"`",
        ));
    }
    if let (Some(public), Some(Some(key))) = (&public, &key) {
        errors.push(syn::Error::new_spanned(
            quote::quote!(#public #key),
            "a `public` response is the same for every caller and keyed by its path alone, \
             so it cannot vary by a `key` function",
        ));
    }
    errors.finish()?;

    // No error was recorded, so every argument that was seen also parsed.
    let Some(name) = name.flatten() else {
        return Err(syn::Error::new_spanned(
            attr,
            "#[cached] requires a valid cache name",
        ));
    };
    Ok(CachedArgs {
        name,
        ttl: ttl.flatten().unwrap_or(Ttl::Default),
        key: key.flatten(),
        reads: reads.flatten(),
        public,
    })
}

/// Parsing of accepted arguments, and the messages of mistakes that no `tests/ui/fail` case
/// shows (those cases show the others, with their spans).
#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn args(attr: Attribute) -> syn::Result<CachedArgs> {
        parse_cached_attr(&attr)
    }

    /// Every message of the error `attr` gives, in order.
    fn errors(attr: Attribute) -> Vec<String> {
        match args(attr) {
            Ok(a) => panic!("expected an error, got {a:?}"),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn names() {
        assert!(validate_name("nodes").is_ok());
        assert!(validate_name("dashboard/stats").is_ok());
        assert!(validate_name("a-b_c.d").is_ok());
        for (bad, found) in [("a}", r"'}'"), ("a\tb", r"'\t'"), ("a\u{a0}b", r"'\u{a0}'")] {
            assert_eq!(
                validate_name(bad).unwrap_err(),
                format!(
                    "cache `name` must not contain `:`, `*`, `{{`, `}}` or whitespace, found \
                     {found}"
                ),
            );
        }
    }

    #[test]
    fn name_only() {
        let a = args(parse_quote!(#[cached(name = "nodes")])).unwrap();
        assert_eq!(a.name.value(), "nodes");
        assert_eq!(a.ttl, Ttl::Default);
        assert!(a.key.is_none());
    }

    #[test]
    fn all_arguments_any_order() {
        let a = args(parse_quote!(#[cached(key = crate::auth::role_key, ttl = 45, name = "x",)]))
            .unwrap();
        assert_eq!(a.name.value(), "x");
        assert_eq!(a.ttl, Ttl::Seconds(45));
        assert_eq!(a.key, Some(parse_quote!(crate::auth::role_key)));
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl(&parse_quote!(default)).unwrap(), Ttl::Default);
        assert_eq!(parse_ttl(&parse_quote!(dashboard)).unwrap(), Ttl::Dashboard);
        assert_eq!(parse_ttl(&parse_quote!(feeds)).unwrap(), Ttl::Feeds);
        assert_eq!(parse_ttl(&parse_quote!(1)).unwrap(), Ttl::Seconds(1));
        assert_eq!(
            parse_ttl(&parse_quote!(3600u64)).unwrap(),
            Ttl::Seconds(3600)
        );
        let bad: [Expr; 7] = [
            parse_quote!(0),
            parse_quote!(-5),
            parse_quote!("30"),
            parse_quote!(forever),
            parse_quote!(Ttl::Default),
            parse_quote!(1.5),
            parse_quote!(99999999999999999999999),
        ];
        for e in bad {
            assert!(parse_ttl(&e).is_err(), "{}", quote::quote!(#e));
        }
        // Outside an attribute `-5` is a negation, not one literal (ui/fail/ttl_negative).
        assert_eq!(
            parse_ttl(&parse_quote!(-5)).unwrap_err().to_string(),
            "`ttl` must be a positive number of seconds, not negative"
        );
    }

    #[test]
    fn keys() {
        assert!(parse_key(&parse_quote!(role_key)).is_ok());
        assert!(parse_key(&parse_quote!(super::role_key)).is_ok());
        assert!(parse_key(&parse_quote!(<X as Y>::f)).is_ok());
        let bad: [Expr; 3] = [
            parse_quote!("role_key"),
            parse_quote!(|r| r.uri().to_string()),
            parse_quote!(role_key()),
        ];
        for e in bad {
            assert_eq!(
                parse_key(&e).unwrap_err().to_string(),
                "`key` must be a path to a function `fn(&poem::Request) -> impl Display`, e.g. \
                 `key = role_key`",
                "{}",
                quote::quote!(#e)
            );
        }
    }

    #[test]
    fn empty_arguments_miss_the_name() {
        assert_eq!(
            errors(parse_quote!(#[cached()])),
            ["#[cached] requires a cache name: `name = \"...\"`"]
        );
    }

    #[test]
    fn a_bad_name_is_not_also_missing() {
        assert_eq!(
            errors(parse_quote!(#[cached(name = 5)])),
            ["`name` must be a string literal, e.g. `name = \"nodes\"`"]
        );
        assert_eq!(
            errors(parse_quote!(#[cached(name)])),
            ["expected `name = ...`, e.g. `name = \"nodes\"`"]
        );
    }

    #[test]
    fn duplicate_name() {
        assert_eq!(
            errors(parse_quote!(#[cached(name = "a", name = "b")])),
            ["duplicate #[cached] argument `name`"]
        );
    }

    #[test]
    fn reads_lists() {
        let a = args(parse_quote!(#[cached(name = "a", reads = [nodes, node_tags])])).unwrap();
        let tables: Vec<String> = a.reads.unwrap().iter().map(Ident::to_string).collect();
        assert_eq!(tables, ["nodes", "node_tags"]);
        assert!(
            args(parse_quote!(#[cached(name = "a")]))
                .unwrap()
                .reads
                .is_none()
        );
        assert_eq!(
            errors(parse_quote!(#[cached(name = "a", reads = [nodes, x::y])])),
            [
                "`reads` takes MeshCore Hub's table names as bare identifiers, e.g. `nodes, \
                 node_tags` (see hub_core::tables)"
            ]
        );
        assert_eq!(
            errors(parse_quote!(#[cached(name = "a", depends = ["nodes"])])),
            [
                "unknown #[cached] argument `depends`; expected `name`, `ttl`, `key`, `reads` \
                 or `public`"
            ]
        );
    }

    #[test]
    fn invalidates_lists() {
        let tables: Vec<String> =
            parse_invalidates_attr(&parse_quote!(#[invalidates(channels, messages,)]))
                .unwrap()
                .iter()
                .map(Ident::to_string)
                .collect();
        assert_eq!(tables, ["channels", "messages"]);
        assert_eq!(
            parse_invalidates_attr(&parse_quote!(#[invalidates = "x"]))
                .unwrap_err()
                .to_string(),
            "#[invalidates] requires the tables a write changes, e.g. `#[invalidates(channels)]`"
        );
    }

    #[test]
    fn public_flag() {
        let a = args(parse_quote!(#[cached(name = "feeds/x", ttl = feeds, public)])).unwrap();
        assert!(a.public.is_some());
        assert_eq!(a.ttl, Ttl::Feeds);
        assert!(
            args(parse_quote!(#[cached(name = "x")]))
                .unwrap()
                .public
                .is_none()
        );
        assert_eq!(
            errors(parse_quote!(#[cached(name = "x", public, public)])),
            ["duplicate #[cached] argument `public`"]
        );
    }

    #[test]
    fn all_errors_are_reported() {
        assert_eq!(
            errors(parse_quote!(#[cached(name = "", ttl = 0, key = "k", foo = 1)])),
            [
                "cache `name` must not be empty",
                "`ttl` must be at least 1 second; omit `ttl` for the default",
                "`key` must be a path to a function `fn(&poem::Request) -> impl Display`, e.g. \
                 `key = role_key`",
                "unknown #[cached] argument `foo`; expected `name`, `ttl`, `key`, `reads` or \
                 `public`",
            ]
        );
    }
}
