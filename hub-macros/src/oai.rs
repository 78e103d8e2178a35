//! Read-only views of the attributes and signatures that poem-openapi's `#[OpenApi]` will
//! interpret after us. Nothing here modifies them: `#[OpenApi]` must see them intact.
//!
//! When poem-openapi would reject an attribute, we do not report it a second time: the
//! functions here just return "nothing found" and leave the diagnosis to `#[OpenApi]`.

use syn::{
    Attribute, Expr, ExprLit, FnArg, Ident, Lit, LitStr, Meta, Pat, PatType, Path, Token, Type,
    TypePath, ext::IdentExt, punctuated::Punctuated,
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

/// `Query<T>` under any path (`Query<T>`, `param::Query<T>`, `poem_openapi::param::Query<T>`).
pub(crate) fn is_query_type(ty: &Type) -> bool {
    match ty {
        Type::Path(TypePath { qself: None, path }) => last_segment_is(path, "Query"),
        Type::Group(g) => is_query_type(&g.elem),
        Type::Paren(p) => is_query_type(&p.elem),
        _ => false,
    }
}

/// The public name of a `Query<T>` parameter, as poem-openapi computes it:
/// `#[oai(name = "...")]` if present, else the identifier without `r#`.
/// `None` when the parameter is not a `Query<T>` or has no usable identifier.
pub(crate) fn query_param_name(param: &PatType) -> Option<String> {
    if !is_query_type(&param.ty) {
        return None;
    }
    let renamed = oai_items(&param.attrs).and_then(|(_, items)| {
        items
            .iter()
            .find_map(|m| str_value(m, "name"))
            .map(LitStr::value)
    });
    renamed.or_else(|| param_ident(&param.pat).map(|i| i.unraw().to_string()))
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

    fn name_of(f: ImplItemFn) -> Vec<Option<String>> {
        typed_params(&f.sig.inputs).map(query_param_name).collect()
    }

    #[test]
    fn query_names() {
        let f: ImplItemFn = parse_quote! {
            async fn a(
                &self,
                limit: Query<Option<u32>>,
                #[oai(name = "type", validator(maximum(value = "3")))] kind: param::Query<String>,
                r#type: poem_openapi::param::Query<String>,
                Query(search): Query<Option<String>>,
                id: Path<String>,
                req: &Request,
            ) {}
        };
        assert_eq!(
            name_of(f),
            [
                Some("limit".into()),
                Some("type".into()),
                Some("type".into()),
                Some("search".into()),
                None,
                None
            ]
        );
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
