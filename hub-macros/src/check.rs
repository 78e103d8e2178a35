//! Validation of `#[cached_api]` and of its `#[cached]` and `#[invalidates]` methods, apart
//! from their expansion (as serde_derive's `internals/check.rs`): each check records every
//! mistake it finds in [`Errors`], pointing at the user's tokens, and yields the validated
//! description the expansion works from only when there is none.

use std::collections::HashMap;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;
use syn::{Attribute, Ident, ImplItemFn, ItemImpl, LitStr};

use crate::{
    args::{self, CachedArgs},
    errors::Errors,
    oai::{self, Multiplicity, Operation, ParamKind},
};

/// Checks that `#[cached_api]` itself has no arguments.
pub(crate) fn api_arguments(args: &TokenStream, errors: &mut Errors) {
    if !args.is_empty() {
        errors.push(syn::Error::new_spanned(
            args,
            "#[cached_api] takes no arguments; put them on #[cached(...)] of each method",
        ));
    }
}

/// The impl block `#[cached_api]` stands on, or `None` after recording that it stands on
/// something else.
pub(crate) fn api_impl(item: &TokenStream, errors: &mut Errors) -> Option<ItemImpl> {
    let parsed = syn::parse2(item.clone()).ok();
    if parsed.is_none() {
        errors.push(syn::Error::new_spanned(
            item_header(item),
            "#[cached_api] applies to an `impl` block carrying #[OpenApi]",
        ));
    }
    parsed
}

/// The tokens of an item up to its body (`struct Foo`, `fn f()`, ...), where an error about
/// the item as a whole is shown without quoting all of it.
fn item_header(item: &TokenStream) -> TokenStream {
    let header: TokenStream = item
        .clone()
        .into_iter()
        .take_while(|t| !matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace))
        .collect();
    if header.is_empty() {
        item.clone()
    } else {
        header
    }
}

/// Checks that `#[OpenApi]` is still on the impl, i.e. below `#[cached_api]`. When it is not,
/// it is either missing or above, where it has already generated its routing code from the
/// unmodified signatures, which rewriting them now would break (E0061).
pub(crate) fn above_openapi(item_impl: &ItemImpl, errors: &mut Errors) -> bool {
    let below = item_impl.attrs.iter().any(oai::is_openapi_attr);
    if !below {
        errors.push(syn::Error::new(
            Span::call_site(),
            "#[cached_api] must be placed above #[OpenApi]",
        ));
    }
    below
}

/// The first of a method's attributes of one kind (`what`, e.g. `#[cached]`); every further
/// one is recorded as a duplicate.
pub(crate) fn single_attr<'a>(
    mut attrs: impl Iterator<Item = &'a Attribute>,
    what: &str,
    errors: &mut Errors,
) -> Option<Attribute> {
    let first = attrs.next()?.clone();
    for duplicate in attrs {
        errors.push(syn::Error::new_spanned(
            duplicate,
            format!("duplicate {what} attribute on this method"),
        ));
    }
    Some(first)
}

/// The error of a `#[cached]` or `#[invalidates]` (`what`) that `#[cached_api]` did not
/// process: it is not below `#[cached_api]`, or it is spelled in a way `#[cached_api]` does
/// not recognise.
pub(crate) fn not_expanded(what: &str) -> syn::Error {
    syn::Error::new(
        Span::call_site(),
        format!(
            "{what} was not expanded by #[cached_api]: it requires #[cached_api] above \
             #[OpenApi] on the impl block, and must be written `{name}` or \
             `hub_macros::{name}` (a renamed import such as `use hub_macros::{name} as x` \
             is not recognised)",
            name = what.trim_start_matches("#[").trim_end_matches(']'),
        ),
    )
}

/// The cache names of one impl's `#[cached]` methods: each must be unique.
#[derive(Default)]
pub(crate) struct CacheNames {
    /// Cache name -> the method that declared it first.
    first_use: HashMap<String, Ident>,
}

impl CacheNames {
    /// Records the cache name of `cached`, declared on `method`; returns `false` after
    /// recording the error when an earlier method of the impl has it.
    pub(crate) fn claim(
        &mut self,
        cached: &CachedMethod,
        method: &Ident,
        errors: &mut Errors,
    ) -> bool {
        let name = cached.args.name.value();
        if let Some(first) = self.first_use.get(&name) {
            errors.push(syn::Error::new_spanned(
                &cached.args.name,
                format!("duplicate cache name {name:?}: already used by `fn {first}` in this impl"),
            ));
            return false;
        }
        self.first_use.insert(name, method.clone());
        true
    }
}

/// Everything the expansion needs to know about one `#[cached]` method, once validated.
pub(crate) struct CachedMethod {
    pub args: CachedArgs,
    /// The declared `Query<_>` and `Path<_>` parameters, in declaration order.
    pub key_params: Vec<KeyParamDecl>,
}

/// How the handler reads one parameter that enters the key (mirrors
/// `hub_core::cache::key::ParamRead`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    QueryFirst,
    QueryAll,
    QuerySet,
    Path,
}

/// One parameter that enters the key.
pub(crate) struct KeyParamDecl {
    pub name: String,
    pub read: Read,
    pub ignore_case: bool,
}

/// Checks the `#[cached]` attribute and the method it is on. Returns `None` after recording
/// the errors if anything is wrong.
pub(crate) fn validate_method(
    method: &ImplItemFn,
    attr: &Attribute,
    api_attrs: &[Attribute],
    errors: &mut Errors,
) -> Option<CachedMethod> {
    let (args, mut ok) =
        parse_on_operation(method, attr, Role::Read, args::parse_cached_attr, errors);
    let has_key_fn = args.as_ref().is_some_and(|a| a.key.is_some());
    let public = args.as_ref().and_then(|a| a.public.as_ref());
    let key_params = key_params(method, api_attrs, has_key_fn, public, errors);
    ok &= key_params.is_some();
    match (args, key_params) {
        (Some(args), Some(key_params)) if ok => Some(CachedMethod { args, key_params }),
        _ => None,
    }
}

/// The parameters of `method` that enter the key, or `None` after recording why the key
/// cannot cover every input: a header or cookie parameter without a `key` function, or two
/// key parameters with one name (their values would be indistinguishable in the key).
fn key_params(
    method: &ImplItemFn,
    api_attrs: &[Attribute],
    has_key_fn: bool,
    public: Option<&syn::Path>,
    errors: &mut Errors,
) -> Option<Vec<KeyParamDecl>> {
    let mut ok = true;
    let mut params: Vec<KeyParamDecl> = Vec::new();
    let operation_ignore_case = oai::bool_option(&method.attrs, "ignore_case")
        .or_else(|| oai::bool_option(api_attrs, "ignore_case"));
    for param in oai::typed_params(&method.sig.inputs) {
        let Some((kind, inner)) = oai::param_kind(&param.ty) else {
            continue;
        };
        let read = match kind {
            ParamKind::HeaderOrCookie if has_key_fn => continue,
            ParamKind::HeaderOrCookie => {
                errors.push(syn::Error::new_spanned(
                    &param.ty,
                    "the cache key is built from query and path parameters only, so a \
                     #[cached] handler reading a header or cookie parameter needs \
                     `key = <fn>` returning a variant that covers it",
                ));
                ok = false;
                continue;
            }
            ParamKind::Path => Read::Path,
            ParamKind::Query if public.is_some() => {
                errors.push(syn::Error::new_spanned(
                    &param.ty,
                    "a `public` #[cached] response is keyed by its path alone: it cannot read \
                     query parameters (every caller, whatever its query, gets one response)",
                ));
                ok = false;
                continue;
            }
            ParamKind::Query => {
                // `explode = false` lists arrive as one comma-separated value: the first.
                let exploded = oai::bool_option(&param.attrs, "explode").unwrap_or(true);
                match inner.map_or(Multiplicity::One, oai::multiplicity) {
                    Multiplicity::Sequence if exploded => Read::QueryAll,
                    Multiplicity::Set if exploded => Read::QuerySet,
                    _ => Read::QueryFirst,
                }
            }
        };
        // poem-openapi reports a parameter without a usable name itself.
        let Some(name) = oai::param_name(param) else {
            continue;
        };
        let ignore_case = read != Read::Path
            && oai::bool_option(&param.attrs, "ignore_case")
                .or(operation_ignore_case)
                .unwrap_or(false);
        if params.iter().any(|p| {
            p.name == name || ((p.ignore_case || ignore_case) && p.name.eq_ignore_ascii_case(&name))
        }) {
            errors.push(syn::Error::new_spanned(
                &param.pat,
                format!(
                    "two parameters of this #[cached] handler are named {name:?}; the cache \
                     key could not tell their values apart: rename one with #[oai(name = ...)]"
                ),
            ));
            ok = false;
            continue;
        }
        params.push(KeyParamDecl {
            name,
            read,
            ignore_case,
        });
    }
    ok.then_some(params)
}

/// A validated `#[invalidates(...)]` write operation.
pub(crate) struct WriteMethod {
    /// The tables the write changes.
    pub changes: Vec<Ident>,
}

/// Checks an `#[invalidates]` attribute and the method it is on: an `async fn` operation
/// whose methods are all writes. Returns `None` after recording the errors otherwise.
pub(crate) fn validate_write(
    method: &ImplItemFn,
    attr: &Attribute,
    errors: &mut Errors,
) -> Option<WriteMethod> {
    let (changes, ok) = parse_on_operation(
        method,
        attr,
        Role::Write,
        args::parse_invalidates_attr,
        errors,
    );
    changes
        .filter(|_| ok)
        .map(|changes| WriteMethod { changes })
}

/// What `#[cached]` and `#[invalidates]` both check first: `attr`'s arguments as `parse`
/// reads them, and whether those and the method under the attribute (an operation of
/// `role`'s kind, see [`check_operation`]) are valid. Every mistake of either is recorded.
fn parse_on_operation<T>(
    method: &ImplItemFn,
    attr: &Attribute,
    role: Role,
    parse: fn(&Attribute) -> syn::Result<T>,
    errors: &mut Errors,
) -> (Option<T>, bool) {
    let args = errors.ok(parse(attr));
    let operation_ok = check_operation(method, attr, role, errors);
    let ok = args.is_some() && operation_ok;
    (args, ok)
}

/// Which kind of operation an attribute applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `#[cached]`: GET operations.
    Read,
    /// `#[invalidates]`: writes (POST, PUT, PATCH, DELETE).
    Write,
}

impl Role {
    /// The attribute, with the article its name takes.
    fn handler(self) -> &'static str {
        match self {
            Role::Read => "a #[cached]",
            Role::Write => "an #[invalidates]",
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            Role::Read => "#[cached]",
            Role::Write => "#[invalidates]",
        }
    }

    /// The HTTP method the `#[oai]` example names.
    fn example_method(self) -> &'static str {
        match self {
            Role::Read => "get",
            Role::Write => "post",
        }
    }

    /// Why a method without `method = ...` is refused.
    fn no_method(self) -> &'static str {
        match self {
            Role::Read => "#[cached] applies to GET operations: add `method = \"get\"`",
            Role::Write => {
                "#[invalidates] applies to write operations: add `method = \"post\"` \
                 (or put, patch, delete)"
            }
        }
    }

    /// The error for an operation method this attribute does not apply to, if `method` is one.
    fn wrong_method(self, method: &LitStr) -> Option<syn::Error> {
        let value = method.value();
        let text = match self {
            // Case is poem-openapi's business (it rejects `"GET"` itself).
            Role::Read if !value.eq_ignore_ascii_case("get") => format!(
                "#[cached] applies only to GET operations, but this operation's method is \
                 {value:?}; writes invalidate caches instead of being cached"
            ),
            Role::Write
                if value.eq_ignore_ascii_case("get") || value.eq_ignore_ascii_case("head") =>
            {
                format!(
                    "#[invalidates] applies only to write operations, but this operation's \
                     method is {value:?}; reads are cached with #[cached] instead"
                )
            }
            _ => return None,
        };
        Some(syn::Error::new_spanned(method, text))
    }
}

/// Checks what `#[cached]` and `#[invalidates]` both need of the method under `attr`: an
/// `async fn` that is a poem-openapi operation of the attribute's kind. Returns whether it
/// is, after recording every mistake.
fn check_operation(method: &ImplItemFn, attr: &Attribute, role: Role, errors: &mut Errors) -> bool {
    let mut ok = true;
    if method.sig.asyncness.is_none() {
        let fn_token = &method.sig.fn_token;
        let ident = &method.sig.ident;
        errors.push(syn::Error::new_spanned(
            quote!(#fn_token #ident),
            format!("{} handler must be an `async fn`", role.handler()),
        ));
        ok = false;
    }
    match oai::operation(&method.attrs) {
        Operation::Missing => {
            errors.push(syn::Error::new_spanned(
                attr,
                format!(
                    "{} applies to an operation: this method has no \
                     #[oai(path = \"...\", method = \"{}\")]",
                    role.attribute(),
                    role.example_method()
                ),
            ));
            ok = false;
        }
        // poem-openapi reports the unreadable attribute itself.
        Operation::Unreadable => {}
        Operation::Methods(oai_attr, methods) => {
            if methods.is_empty() {
                errors.push(syn::Error::new_spanned(oai_attr, role.no_method()));
                ok = false;
            }
            for error in methods.iter().filter_map(|m| role.wrong_method(m)) {
                errors.push(error);
                ok = false;
            }
        }
    }
    ok
}
