//! Read-only views of the attributes and signatures that poem-openapi's `#[OpenApi]` will
//! interpret after us. Nothing here modifies them: `#[OpenApi]` must see them intact.
//!
//! When poem-openapi would reject an attribute, we do not report it a second time: the
//! functions here just return "nothing found" and leave the diagnosis to `#[OpenApi]`.

use syn::{
    Attribute, Expr, ExprLit, FnArg, GenericArgument, Ident, Lit, LitStr, Meta, Pat, PatType, Path,
    PathArguments, Token, Type, TypePath, ext::IdentExt, punctuated::Punctuated,
};

fn last_segment_is(path: &Path, name: &str) -> bool {
    path.segments.last().is_some_and(|s| s.ident == name)
}

/// `#[OpenApi]`, `#[poem_openapi::OpenApi]`, `#[OpenApi(prefix_path = ...)]`, ...
pub(crate) fn is_openapi_attr(attr: &Attribute) -> bool {
    last_segment_is(attr.path(), "OpenApi")
}

/// `#[cached(...)]` or `#[hub_macros::cached(...)]`.
pub(crate) fn is_cached_attr(attr: &Attribute) -> bool {
    is_hub_attr(attr, "cached")
}

/// `#[invalidates(...)]` or `#[hub_macros::invalidates(...)]`.
pub(crate) fn is_invalidates_attr(attr: &Attribute) -> bool {
    is_hub_attr(attr, "invalidates")
}

fn is_hub_attr(attr: &Attribute, name: &str) -> bool {
    let path = attr.path();
    match path.segments.len() {
        1 => path.is_ident(name),
        2 => path.segments[0].ident == "hub_macros" && path.segments[1].ident == name,
        _ => false,
    }
}

/// The `name = value` items of the first `#[oai(...)]` attribute, which is the one
/// poem-openapi reads. `None` when there is no such attribute or it does not parse (then
/// poem-openapi reports it).
fn oai_items(attrs: &[Attribute]) -> Option<(&Attribute, Punctuated<Meta, Token![,]>)> {
    let attr = attrs.iter().find(|a| a.path().is_ident("oai"))?;
    let items = attr
        .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        .ok()?;
    Some((attr, items))
}

fn str_value<'a>(meta: &'a Meta, key: &str) -> Option<&'a LitStr> {
    match meta {
        Meta::NameValue(nv) if nv.path.is_ident(key) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// What the operation attribute of a method says about its HTTP methods.
pub(crate) enum Operation<'a> {
    /// No `#[oai(...)]` on the method: it is not an operation.
    Missing,
    /// `#[oai(...)]` is there but could not be read; poem-openapi will report it.
    Unreadable,
    /// The `method = "..."` literals (poem-openapi allows several), with the attribute.
    Methods(&'a Attribute, Vec<LitStr>),
}

pub(crate) fn operation(attrs: &[Attribute]) -> Operation<'_> {
    if !attrs.iter().any(|a| a.path().is_ident("oai")) {
        return Operation::Missing;
    }
    match oai_items(attrs) {
        None => Operation::Unreadable,
        Some((attr, items)) => Operation::Methods(
            attr,
            items
                .iter()
                .filter_map(|m| str_value(m, "method"))
                .cloned()
                .collect(),
        ),
    }
}

/// The identifier poem-openapi takes a parameter's name from: `x` in `x: T` and in
/// `Query(x): Query<T>`.
fn param_ident(pat: &Pat) -> Option<&Ident> {
    match pat {
        Pat::Ident(p) => Some(&p.ident),
        Pat::TupleStruct(ts) if ts.elems.len() == 1 => match ts.elems.first() {
            Some(Pat::Ident(p)) => Some(&p.ident),
            _ => None,
        },
        _ => None,
    }
}

/// The poem-openapi parameter extractors, by what of the request they read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    Query,
    Path,
    /// `Header<T>`, `Cookie<T>`, `CookiePrivate<T>`, `CookieSigned<T>`: request inputs the
    /// generated key cannot see.
    HeaderOrCookie,
}

/// The extractor `ty` is, judged by the last segment of its path under any prefix
/// (`Query<T>`, `param::Query<T>`, `poem_openapi::param::Query<T>`), with its type argument.
pub(crate) fn param_kind(ty: &Type) -> Option<(ParamKind, Option<&Type>)> {
    match ty {
        Type::Path(TypePath { qself: None, path }) => {
            let last = path.segments.last()?;
            let kind = match last.ident.to_string().as_str() {
                "Query" => ParamKind::Query,
                "Path" => ParamKind::Path,
                "Header" | "Cookie" | "CookiePrivate" | "CookieSigned" => ParamKind::HeaderOrCookie,
                _ => return None,
            };
            Some((kind, first_type_argument(&last.arguments)))
        }
        Type::Group(g) => param_kind(&g.elem),
        Type::Paren(p) => param_kind(&p.elem),
        _ => None,
    }
}

fn first_type_argument(args: &PathArguments) -> Option<&Type> {
    match args {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// How many occurrences of a query parameter poem-openapi parses for a `Query<T>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Multiplicity {
    /// The first occurrence only.
    One,
    /// Every occurrence, in order (`Vec`, `VecDeque`, `LinkedList`, arrays, `IndexSet`).
    Sequence,
    /// Every occurrence, into a set that forgets order and repeats (`HashSet`, `BTreeSet`).
    Set,
}

/// What poem-openapi parses of a query parameter of type `T` (from `Query<T>`): the
/// collections it implements `ParseFromParameter` for, also inside `Option`, `Box`, `Arc`.
/// Anything else parses the first occurrence only. A type alias of a collection is not
/// recognised (it would be keyed by its first value): name the collection in the signature.
pub(crate) fn multiplicity(ty: &Type) -> Multiplicity {
    match ty {
        Type::Path(TypePath { qself: None, path }) => {
            let Some(last) = path.segments.last() else {
                return Multiplicity::One;
            };
            match last.ident.to_string().as_str() {
                "Option" | "Box" | "Arc" => {
                    first_type_argument(&last.arguments).map_or(Multiplicity::One, multiplicity)
                }
                "Vec" | "VecDeque" | "LinkedList" | "IndexSet" => Multiplicity::Sequence,
                "HashSet" | "BTreeSet" => Multiplicity::Set,
                _ => Multiplicity::One,
            }
        }
        Type::Array(_) | Type::Slice(_) => Multiplicity::Sequence,
        Type::Group(g) => multiplicity(&g.elem),
        Type::Paren(p) => multiplicity(&p.elem),
        _ => Multiplicity::One,
    }
}

/// The public name of a parameter, as poem-openapi computes it: `#[oai(name = "...")]` if
/// present, else the identifier without `r#`. `None` without a usable identifier.
pub(crate) fn param_name(param: &PatType) -> Option<String> {
    let renamed = oai_items(&param.attrs).and_then(|(_, items)| {
        items
            .iter()
            .find_map(|m| str_value(m, "name"))
            .map(LitStr::value)
    });
    renamed.or_else(|| param_ident(&param.pat).map(|i| i.unraw().to_string()))
}

/// The value of a boolean option (`flag`, `flag = true`, `flag = false`) in the `#[oai(...)]`
/// (or `#[OpenApi(...)]`) attributes of `attrs`, `None` when not given.
pub(crate) fn bool_option(attrs: &[Attribute], option: &str) -> Option<bool> {
    let items = attrs
        .iter()
        .filter(|a| a.path().is_ident("oai") || is_openapi_attr(a))
        .find_map(|a| {
            a.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
                .ok()
        })?;
    items.iter().find_map(|m| match m {
        Meta::Path(p) if p.is_ident(option) => Some(true),
        Meta::NameValue(nv) if nv.path.is_ident(option) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Bool(b), ..
            }) => Some(b.value),
            _ => None,
        },
        _ => None,
    })
}

/// Whether `ty` is `&Request` (any path ending in `Request`, shared, no generics): the type
/// poem accepts as an extractor for the raw request.
pub(crate) fn is_request_ref(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            Type::Path(TypePath { qself: None, path }) => path
                .segments
                .last()
                .is_some_and(|s| s.ident == "Request" && s.arguments.is_none()),
            _ => false,
        },
        Type::Group(g) => is_request_ref(&g.elem),
        Type::Paren(p) => is_request_ref(&p.elem),
        _ => false,
    }
}

/// The typed (non-receiver) parameters of a signature.
pub(crate) fn typed_params<'a>(
    inputs: impl IntoIterator<Item = &'a FnArg>,
) -> impl Iterator<Item = &'a PatType> {
    inputs.into_iter().filter_map(|arg| match arg {
        FnArg::Typed(p) => Some(p),
        FnArg::Receiver(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::{ImplItemFn, parse_quote};

    #[test]
    fn attribute_kinds() {
        let a: Attribute = parse_quote!(#[OpenApi]);
        assert!(is_openapi_attr(&a));
        let a: Attribute = parse_quote!(#[poem_openapi::OpenApi(prefix_path = "/api")]);
        assert!(is_openapi_attr(&a));
        let a: Attribute = parse_quote!(#[cached(name = "x")]);
        assert!(is_cached_attr(&a));
        let a: Attribute = parse_quote!(#[hub_macros::cached(name = "x")]);
        assert!(is_cached_attr(&a));
        let a: Attribute = parse_quote!(#[other::cached]);
        assert!(!is_cached_attr(&a));
    }

    fn methods(f: &ImplItemFn) -> Option<Vec<String>> {
        match operation(&f.attrs) {
            Operation::Methods(_, m) => Some(m.iter().map(LitStr::value).collect()),
            _ => None,
        }
    }

    #[test]
    fn operation_methods() {
        let f: ImplItemFn = parse_quote! {
            /// doc
            #[oai(path = "/a", method = "get", tag = "ApiTags::X")]
            async fn a(&self) {}
        };
        assert_eq!(methods(&f).unwrap(), ["get"]);
        let f: ImplItemFn = parse_quote! {
            #[oai(path = "/a", method = "get", method = "post", deprecated)]
            async fn a(&self) {}
        };
        assert_eq!(methods(&f).unwrap(), ["get", "post"]);
        let f: ImplItemFn = parse_quote!(
            async fn a(&self) {}
        );
        assert!(matches!(operation(&f.attrs), Operation::Missing));
        let f: ImplItemFn = parse_quote!(
            #[oai(path = "/a", method = )]
            async fn a(&self) {}
        );
        assert!(matches!(operation(&f.attrs), Operation::Unreadable));
    }

    fn name_of(f: ImplItemFn) -> Vec<Option<(String, ParamKind, Multiplicity)>> {
        typed_params(&f.sig.inputs)
            .map(|p| {
                let (kind, inner) = param_kind(&p.ty)?;
                Some((
                    param_name(p)?,
                    kind,
                    inner.map_or(Multiplicity::One, multiplicity),
                ))
            })
            .collect()
    }

    #[test]
    fn param_names_kinds_and_multiplicity() {
        let f: ImplItemFn = parse_quote! {
            async fn a(
                &self,
                limit: Query<Option<u32>>,
                #[oai(name = "type", validator(maximum(value = "3")))] kind: param::Query<String>,
                r#type: poem_openapi::param::Query<Vec<String>>,
                Query(search): Query<Option<Vec<String>>>,
                ids: Query<std::collections::BTreeSet<u32>>,
                id: Path<String>,
                token: Header<String>,
                session: poem_openapi::param::Cookie<String>,
                req: &Request,
            ) {}
        };
        use Multiplicity::*;
        let q = |n: &str, multi| Some((n.to_owned(), ParamKind::Query, multi));
        assert_eq!(
            name_of(f),
            [
                q("limit", One),
                q("type", One),
                q("type", Sequence),
                q("search", Sequence),
                q("ids", Set),
                Some(("id".into(), ParamKind::Path, One)),
                Some(("token".into(), ParamKind::HeaderOrCookie, One)),
                Some(("session".into(), ParamKind::HeaderOrCookie, One)),
                None
            ]
        );
    }

    #[test]
    fn bool_options() {
        let f: ImplItemFn = parse_quote! {
            #[oai(path = "/a", method = "get", ignore_case)]
            async fn a(&self) {}
        };
        assert_eq!(bool_option(&f.attrs, "ignore_case"), Some(true));
        assert_eq!(bool_option(&f.attrs, "explode"), None);
        let a: Attribute = parse_quote!(#[oai(explode = false)]);
        assert_eq!(bool_option(&[a], "explode"), Some(false));
        let a: Attribute = parse_quote!(#[OpenApi(prefix_path = "/x", ignore_case = true)]);
        assert_eq!(bool_option(&[a], "ignore_case"), Some(true));
    }

    #[test]
    fn request_refs() {
        assert!(is_request_ref(&parse_quote!(&Request)));
        assert!(is_request_ref(&parse_quote!(&'a poem::Request)));
        assert!(is_request_ref(&parse_quote!(&::poem::Request)));
        assert!(!is_request_ref(&parse_quote!(&mut Request)));
        assert!(!is_request_ref(&parse_quote!(Request)));
        assert!(!is_request_ref(&parse_quote!(&RequestBody)));
        assert!(!is_request_ref(&parse_quote!(&Request<u8>)));
    }
}
