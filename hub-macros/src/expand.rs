//! The expansion of `#[cached_api]` (and of a misplaced `#[cached]`).

use std::collections::HashMap;

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, PatIdent, ReturnType,
    Type, parse_quote, spanned::Spanned,
};

use crate::{
    args::{self, CachedArgs, Ttl},
    errors::Errors,
    oai::{self, Operation},
};

/// Everything the expansion needs to know about one `#[cached]` method, once validated.
pub(crate) struct CachedMethod {
    pub args: CachedArgs,
    /// Public names of the declared `Query<_>` parameters, in declaration order.
    pub query_params: Vec<String>,
}

/// `#[cached_api]`: validates every `#[cached]` method of the impl and rewrites the valid
/// ones; reports every mistake at once. The impl is always emitted (with the `#[cached]`
/// attributes removed) so that `#[OpenApi]` still expands and no follow-on errors appear.
pub(crate) fn cached_api(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    if !args.is_empty() {
        errors.push(syn::Error::new_spanned(
            &args,
            "#[cached_api] takes no arguments; put them on #[cached(...)] of each method",
        ));
    }
    let mut item_impl: ItemImpl = match syn::parse2(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(_) => {
            errors.push(syn::Error::new(
                Span::call_site(),
                "#[cached_api] applies to an `impl` block carrying #[OpenApi]",
            ));
            let compile_errors = errors.to_compile_error();
            return quote!(#compile_errors #item);
        }
    };

    if !item_impl.attrs.iter().any(oai::is_openapi_attr) {
        // Either #[OpenApi] is missing, or it stands above us and has already generated its
        // routing code from the unmodified signatures: rewriting them now would break that
        // code (E0061). Report the placement once; the #[cached] attributes become inert.
        errors.push(syn::Error::new(
            Span::call_site(),
            "#[cached_api] must be placed above #[OpenApi]",
        ));
        for item in &mut item_impl.items {
            if let ImplItem::Fn(method) = item {
                method
                    .attrs
                    .iter_mut()
                    .filter(|a| is_unprocessed(a))
                    .for_each(mark_processed);
            }
        }
    } else {
        rewrite_impl(&mut item_impl, &mut errors);
    }

    let compile_errors = errors.to_compile_error();
    quote! {
        #compile_errors
        #item_impl
    }
}

fn rewrite_impl(item_impl: &mut ItemImpl, errors: &mut Errors) {
    // Cache name -> method that declared it first.
    let mut names: HashMap<String, Ident> = HashMap::new();
    for item in &mut item_impl.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(attr) = take_cached_attr(method, errors) else {
            continue;
        };
        let Some(cached) = validate_method(method, &attr, errors) else {
            continue;
        };
        let name = cached.args.name.value();
        if let Some(first) = names.get(&name) {
            errors.push(syn::Error::new_spanned(
                &cached.args.name,
                format!("duplicate cache name {name:?}: already used by `fn {first}` in this impl"),
            ));
            continue;
        }
        names.insert(name, method.sig.ident.clone());
        rewrite_method(method, &cached);
    }
    // Second pass, once every cache name of the impl is known: the writes.
    for item in &mut item_impl.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(attr) = take_attr(method, errors, oai::is_invalidates_attr, "#[invalidates]")
        else {
            continue;
        };
        let Some(invalidated) = validate_write(method, &attr, errors) else {
            continue;
        };
        rewrite_write(method, &invalidated, &names);
    }
}

/// The argument `#[cached_api]` leaves on the `#[cached]` attributes it has processed:
/// `#[cached(__processed_by_cached_api)]` expands to the method unchanged. Keeping the
/// attribute (instead of removing it) keeps the user's `use hub_macros::cached` import used.
pub(crate) const PROCESSED: &str = "__processed_by_cached_api";

/// An unprocessed `#[cached]` or `#[invalidates]`.
fn is_unprocessed(attr: &Attribute) -> bool {
    (oai::is_cached_attr(attr) || oai::is_invalidates_attr(attr)) && !is_processed(attr)
}

fn is_processed(attr: &Attribute) -> bool {
    matches!(&attr.meta, syn::Meta::List(l) if is_processed_marker(&l.tokens))
}

/// Whether the arguments of a `#[cached(...)]` are the [`PROCESSED`] marker.
pub(crate) fn is_processed_marker(args: &TokenStream) -> bool {
    let mut tokens = args.clone().into_iter();
    matches!(
        (tokens.next(), tokens.next()),
        (Some(proc_macro2::TokenTree::Ident(i)), None) if i == PROCESSED
    )
}

fn mark_processed(attr: &mut Attribute) {
    let path = attr.path().clone();
    let marker = Ident::new(PROCESSED, Span::call_site());
    attr.meta = parse_quote!(#path(#marker));
}

/// Returns a copy of the first unprocessed `#[cached]` attribute of `method`, further ones
/// being reported as duplicates, and marks them all processed.
fn take_cached_attr(method: &mut ImplItemFn, errors: &mut Errors) -> Option<Attribute> {
    take_attr(method, errors, oai::is_cached_attr, "#[cached]")
}

/// Returns a copy of the first unprocessed attribute that `is_kind` recognizes, further ones
/// being reported as duplicates, and marks them all processed.
fn take_attr(
    method: &mut ImplItemFn,
    errors: &mut Errors,
    is_kind: fn(&Attribute) -> bool,
    what: &str,
) -> Option<Attribute> {
    let mut found: Option<Attribute> = None;
    for attr in method
        .attrs
        .iter_mut()
        .filter(|a| is_kind(a) && !is_processed(a))
    {
        if found.is_some() {
            errors.push(syn::Error::new_spanned(
                &*attr,
                format!("duplicate {what} attribute on this method"),
            ));
        } else {
            found = Some(attr.clone());
        }
        mark_processed(attr);
    }
    found
}

/// Checks the `#[cached]` attribute and the method it is on. Returns `None` after recording
/// the errors if anything is wrong.
fn validate_method(
    method: &ImplItemFn,
    attr: &Attribute,
    errors: &mut Errors,
) -> Option<CachedMethod> {
    let mut ok = true;
    let args = errors.ok(args::parse_cached_attr(attr));
    ok &= args.is_some();

    if method.sig.asyncness.is_none() {
        let fn_token = &method.sig.fn_token;
        let ident = &method.sig.ident;
        errors.push(syn::Error::new_spanned(
            quote!(#fn_token #ident),
            "a #[cached] handler must be an `async fn`",
        ));
        ok = false;
    }

    match oai::operation(&method.attrs) {
        Operation::Missing => {
            errors.push(syn::Error::new_spanned(
                attr,
                "#[cached] applies to an operation: this method has no \
                 #[oai(path = \"...\", method = \"get\")]",
            ));
            ok = false;
        }
        // poem-openapi reports the unreadable attribute itself.
        Operation::Unreadable => {}
        Operation::Methods(oai_attr, methods) => {
            if methods.is_empty() {
                errors.push(syn::Error::new_spanned(
                    oai_attr,
                    "#[cached] applies to GET operations: add `method = \"get\"`",
                ));
                ok = false;
            }
            // Case is poem-openapi's business (it rejects `"GET"` itself).
            for m in methods
                .iter()
                .filter(|m| !m.value().eq_ignore_ascii_case("get"))
            {
                errors.push(non_get(m));
                ok = false;
            }
        }
    }

    let query_params = oai::typed_params(&method.sig.inputs)
        .filter_map(oai::query_param_name)
        .collect();
    match args {
        Some(args) if ok => Some(CachedMethod { args, query_params }),
        _ => None,
    }
}

fn non_get(method: &LitStr) -> syn::Error {
    syn::Error::new_spanned(
        method,
        format!(
            "#[cached] applies only to GET operations, but this operation's method is {:?}; \
             writes invalidate caches instead of being cached",
            method.value()
        ),
    )
}

/// The runtime module the expansion calls into.
fn runtime() -> TokenStream {
    quote!(::hub_core::cache::runtime)
}

/// Rewrites a validated `#[cached]` method in place:
/// request parameter reused or injected, return type `R` -> `Cached<R>`, body wrapped in
/// `serve(...)`.
pub(crate) fn rewrite_method(method: &mut ImplItemFn, cached: &CachedMethod) {
    let rt = runtime();
    let req = request_param(method);

    let (ret_ty, ret_span): (Type, Span) = match &method.sig.output {
        ReturnType::Default => (parse_quote!(()), method.sig.ident.span()),
        ReturnType::Type(_, ty) => ((**ty).clone(), ty.span()),
    };
    // Paths written out (not `#rt`) so that they carry the span: a return type that is not an
    // `ApiResponse` is reported at the user's return type.
    let wrapped: Type =
        syn::parse_quote_spanned!(ret_span=> ::hub_core::cache::runtime::Cached<#ret_ty>);
    method.sig.output = ReturnType::Type(Default::default(), Box::new(wrapped));

    let name = &cached.args.name;
    let ttl = match cached.args.ttl {
        Ttl::Default => quote!(#rt::Ttl::Default),
        Ttl::Dashboard => quote!(#rt::Ttl::Dashboard),
        Ttl::Seconds(s) => {
            let s = Literal::u64_suffixed(s);
            quote!(#rt::Ttl::Seconds(#s))
        }
    };
    let params = &cached.query_params;
    let depends = &cached.args.depends;
    // A `depends` name must be one writes can invalidate, else it is a silent no-op.
    let checks = depends.iter().map(|n| known_name_check(n, "`depends`"));
    let variant = match &cached.args.key {
        // Spanned on the user's path: a key function of the wrong type is reported there.
        Some(key) => quote_spanned!(key.span()=> ::hub_core::cache::runtime::variant(#key, #req)),
        None => quote!(::std::string::String::new()),
    };
    let spec = Ident::new("__HUB_SPEC", Span::mixed_site());
    let var = Ident::new("__hub_variant", Span::mixed_site());
    let ret = Ident::new("__hub_ret", Span::mixed_site());
    let body = &method.block;
    method.block = parse_quote! {{
        static #spec: #rt::CacheSpec = #rt::CacheSpec {
            name: #name,
            ttl: #ttl,
            params: &[#(#params),*],
            depends: &[#(#depends),*],
        };
        #(#checks)*
        let #var: ::std::string::String = #variant;
        #rt::serve(&#spec, #req, #var, async move {
            // The original body, typed as the original return type so that `?` and `return`
            // inside it mean what they meant in the handler.
            let #ret: #ret_ty = async move #body.await;
            #ret
        })
        .await
    }};
}

/// A `const` assertion, spanned on `name`, that `name` is in `hub_core::cache::names::KNOWN`.
fn known_name_check(name: &LitStr, what: &str) -> TokenStream {
    let message = format!(
        "unknown cache name {:?} in {what}: not in hub_core::cache::names::KNOWN nor a \
         #[cached] name of this impl",
        name.value()
    );
    quote_spanned! {name.span()=>
        const _: () = ::core::assert!(::hub_core::cache::names::is_known(#name), #message);
    }
}

/// A validated `#[invalidates(...)]` write operation.
pub(crate) struct WriteMethod {
    pub names: Vec<LitStr>,
}

/// Checks an `#[invalidates]` attribute and the method it is on: an `async fn` operation
/// whose methods are all writes. Returns `None` after recording the errors otherwise.
fn validate_write(
    method: &ImplItemFn,
    attr: &Attribute,
    errors: &mut Errors,
) -> Option<WriteMethod> {
    let names = errors.ok(args::parse_invalidates_attr(attr));
    let mut ok = names.is_some();
    if method.sig.asyncness.is_none() {
        let fn_token = &method.sig.fn_token;
        let ident = &method.sig.ident;
        errors.push(syn::Error::new_spanned(
            quote!(#fn_token #ident),
            "an #[invalidates] handler must be an `async fn`",
        ));
        ok = false;
    }
    match oai::operation(&method.attrs) {
        Operation::Missing => {
            errors.push(syn::Error::new_spanned(
                attr,
                "#[invalidates] applies to an operation: this method has no \
                 #[oai(path = \"...\", method = \"post\")]",
            ));
            ok = false;
        }
        Operation::Unreadable => {}
        Operation::Methods(oai_attr, methods) => {
            if methods.is_empty() {
                errors.push(syn::Error::new_spanned(
                    oai_attr,
                    "#[invalidates] applies to write operations: add `method = \"post\"` \
                     (or put, patch, delete)",
                ));
                ok = false;
            }
            for m in methods.iter().filter(|m| {
                let v = m.value();
                v.eq_ignore_ascii_case("get") || v.eq_ignore_ascii_case("head")
            }) {
                errors.push(syn::Error::new_spanned(
                    m,
                    format!(
                        "#[invalidates] applies only to write operations, but this \
                         operation's method is {:?}; reads are cached with #[cached] instead",
                        m.value()
                    ),
                ));
                ok = false;
            }
        }
    }
    match names {
        Some(names) if ok => Some(WriteMethod { names }),
        _ => None,
    }
}

/// Rewrites a validated `#[invalidates]` method: request parameter reused or injected,
/// return type `R` -> `Invalidated<R>`, body wrapped in `invalidating(...)`, and a `const`
/// check of every name that is not a `#[cached]` name of this impl.
fn rewrite_write(
    method: &mut ImplItemFn,
    write: &WriteMethod,
    impl_names: &HashMap<String, Ident>,
) {
    let rt = runtime();
    let req = request_param(method);
    let (ret_ty, ret_span): (Type, Span) = match &method.sig.output {
        ReturnType::Default => (parse_quote!(()), method.sig.ident.span()),
        ReturnType::Type(_, ty) => ((**ty).clone(), ty.span()),
    };
    let wrapped: Type =
        syn::parse_quote_spanned!(ret_span=> ::hub_core::cache::runtime::Invalidated<#ret_ty>);
    method.sig.output = ReturnType::Type(Default::default(), Box::new(wrapped));
    let names = &write.names;
    let checks = names
        .iter()
        .filter(|n| !impl_names.contains_key(&n.value()))
        .map(|n| known_name_check(n, "#[invalidates]"));
    let spec = Ident::new("__HUB_INVALIDATES", Span::mixed_site());
    let ret = Ident::new("__hub_ret", Span::mixed_site());
    let body = &method.block;
    method.block = parse_quote! {{
        #(#checks)*
        static #spec: #rt::InvalidateSpec = #rt::InvalidateSpec {
            names: &[#(#names),*],
        };
        #rt::invalidating(&#spec, #req, async move {
            let #ret: #ret_ty = async move #body.await;
            #ret
        })
        .await
    }};
}

/// The identifier of the `&Request` parameter the expansion passes to `serve`: the handler's
/// own if it takes one (`_` is renamed so that it can be used), else an injected
/// `__hub_req: &::poem::Request`.
fn request_param(method: &mut ImplItemFn) -> Ident {
    for arg in method.sig.inputs.iter_mut() {
        let FnArg::Typed(param) = arg else { continue };
        if !oai::is_request_ref(&param.ty) {
            continue;
        }
        match &mut *param.pat {
            Pat::Ident(p) if p.subpat.is_none() => return p.ident.clone(),
            pat @ Pat::Wild(_) => {
                let ident = Ident::new("__hub_req", Span::mixed_site());
                *pat = Pat::Ident(PatIdent {
                    attrs: Vec::new(),
                    by_ref: None,
                    mutability: None,
                    ident: ident.clone(),
                    subpat: None,
                });
                return ident;
            }
            _ => {}
        }
    }
    let ident = Ident::new("__hub_req", Span::mixed_site());
    method
        .sig
        .inputs
        .push(parse_quote!(#ident: &::poem::Request));
    ident
}

/// `#[cached]` expanded on its own. With the [`PROCESSED`] marker, `#[cached_api]` has
/// already done the work: the method is returned as is. Otherwise `#[cached_api]` did not run
/// before `#[OpenApi]`: a compile error.
pub(crate) fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    marker(args, item, "#[cached]")
}

/// `#[invalidates]` expanded on its own: like [`cached`].
pub(crate) fn invalidates(args: TokenStream, item: TokenStream) -> TokenStream {
    marker(args, item, "#[invalidates]")
}

fn marker(args: TokenStream, item: TokenStream, what: &str) -> TokenStream {
    if is_processed_marker(&args) {
        return item;
    }
    let error = syn::Error::new(
        Span::call_site(),
        format!("{what} requires #[cached_api] above #[OpenApi] on the impl block"),
    )
    .to_compile_error();
    let mut out = error;
    item.to_tokens(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(item: ItemImpl) -> String {
        cached_api(TokenStream::new(), item.into_token_stream()).to_string()
    }

    #[test]
    fn rewrites_marked_methods_only() {
        let out = expand(parse_quote! {
            #[OpenApi]
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a", ttl = dashboard, key = role_key)]
                async fn a(&self, #[oai(name = "type")] kind: Query<String>, limit: Query<u32>) -> Json<u32> { Json(1) }

                #[oai(path = "/b", method = "post")]
                async fn b(&self) -> Json<u32> { Json(2) }
            }
        });
        assert!(!out.contains("cached (name"), "{out}");
        assert!(
            out.contains("# [cached (__processed_by_cached_api)]"),
            "{out}"
        );
        assert!(out.contains("# [OpenApi]"), "{out}");
        assert!(out.contains("__hub_req : & :: poem :: Request"), "{out}");
        assert!(
            out.contains(":: hub_core :: cache :: runtime :: Cached < Json < u32 > >"),
            "{out}"
        );
        assert!(out.contains("params : & [\"type\" , \"limit\"]"), "{out}");
        assert!(out.contains("Ttl :: Dashboard"), "{out}");
        assert!(out.contains("variant (role_key , __hub_req)"), "{out}");
        assert!(
            out.contains("async fn b (& self) -> Json < u32 > { Json (2) }"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn processed_marker() {
        assert!(is_processed_marker(&quote!(__processed_by_cached_api)));
        assert!(!is_processed_marker(&quote!(name = "x")));
        assert!(!is_processed_marker(&quote!(
            __processed_by_cached_api,
            name = "x"
        )));
        let item = quote!(
            async fn a(&self) {}
        );
        assert_eq!(
            cached(quote!(__processed_by_cached_api), item.clone()).to_string(),
            item.to_string()
        );
        assert!(
            cached(quote!(name = "a"), item)
                .to_string()
                .contains("requires #[cached_api] above #[OpenApi]")
        );
    }

    #[test]
    fn reuses_the_request_parameter() {
        let out = expand(parse_quote! {
            #[poem_openapi::OpenApi]
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a", ttl = 5)]
                async fn a(&self, req: &Request) -> Json<u32> { Json(1) }
                #[oai(path = "/b", method = "get")]
                #[cached(name = "b")]
                async fn b(&self, _: &poem::Request) -> Json<u32> { Json(1) }
            }
        });
        assert!(!out.contains("__hub_req : & :: poem"), "{out}");
        assert!(out.contains("req : & Request"), "{out}");
        assert!(out.contains("__hub_req : & poem :: Request"), "{out}");
        assert!(out.contains("Ttl :: Seconds (5u64)"), "{out}");
        assert!(out.contains("String :: new ()"), "{out}");
    }

    #[test]
    fn rewrites_writes() {
        let out = expand(parse_quote! {
            #[OpenApi]
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a", depends = ["nodes"])]
                async fn a(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/a", method = "post")]
                #[invalidates("a", "dashboard")]
                async fn post(&self, req: &Request) -> Json<u32> { Json(2) }
            }
        });
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("depends : & [\"nodes\"]"), "{out}");
        assert!(
            out.contains(":: hub_core :: cache :: runtime :: Invalidated < Json < u32 > >"),
            "{out}"
        );
        assert!(out.contains("names : & [\"a\" , \"dashboard\"]"), "{out}");
        assert!(
            out.contains("invalidating (& __HUB_INVALIDATES , req"),
            "{out}"
        );
        // Checked against KNOWN: `dashboard` and the depends name; `a` is this impl's own.
        assert_eq!(out.matches("is_known").count(), 2, "{out}");
        assert!(out.contains("is_known (\"dashboard\")"), "{out}");
        assert!(out.contains("is_known (\"nodes\")"), "{out}");
        assert!(
            out.contains("# [invalidates (__processed_by_cached_api)]"),
            "{out}"
        );
    }

    #[test]
    fn write_errors() {
        let out = expand(parse_quote! {
            #[OpenApi]
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[invalidates("nodes")]
                async fn a(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/b")]
                #[invalidates("nodes")]
                async fn b(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/c", method = "post")]
                #[invalidates("nodes")]
                fn c(&self) -> Json<u32> { Json(1) }
                #[invalidates("nodes")]
                async fn d(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/e", method = "delete")]
                #[invalidates("nodes")]
                #[invalidates("profiles")]
                async fn e(&self) -> Json<u32> { Json(1) }
            }
        });
        assert!(out.contains("only to write operations"), "{out}");
        assert!(out.contains("add `method = \\\"post\\\"`"), "{out}");
        assert!(out.contains("must be an `async fn`"), "{out}");
        assert!(out.contains("has no #[oai("), "{out}");
        assert!(out.contains("duplicate #[invalidates] attribute"), "{out}");
        // Only the valid write is rewritten.
        assert_eq!(out.matches("Invalidated <").count(), 1, "{out}");
    }

    #[test]
    fn missing_openapi() {
        let out = expand(parse_quote! {
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a")]
                async fn a(&self) -> Json<u32> { Json(1) }
            }
        });
        assert!(out.contains("must be placed above #[OpenApi]"), "{out}");
        assert!(!out.contains("cached (name"), "{out}");
        assert!(!out.contains("Cached <"), "{out}");
    }

    #[test]
    fn method_errors_and_duplicates() {
        let out = expand(parse_quote! {
            #[OpenApi]
            impl Api {
                #[oai(path = "/a", method = "post")]
                #[cached(name = "a")]
                async fn a(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/b", method = "get")]
                #[cached(name = "b")]
                fn b(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/c", method = "get")]
                #[cached(name = "c")]
                async fn c(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/d", method = "get")]
                #[cached(name = "c")]
                async fn d(&self) -> Json<u32> { Json(1) }
                #[cached(name = "e")]
                async fn e(&self) -> Json<u32> { Json(1) }
            }
        });
        assert!(out.contains("only to GET operations"), "{out}");
        assert!(out.contains("must be an `async fn`"), "{out}");
        assert!(out.contains("already used by `fn c`"), "{out}");
        assert!(out.contains("has no #[oai("), "{out}");
        // The valid method is still rewritten, the invalid ones are left alone.
        assert_eq!(out.matches("Cached <").count(), 1, "{out}");
    }
}
