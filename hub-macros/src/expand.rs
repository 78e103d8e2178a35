//! The expansion of `#[cached_api]` (and of a misplaced `#[cached]`): generation only. Every
//! decision about what is accepted, and every message about what is not, is in
//! [`check`](crate::check) and [`args`](crate::args).

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, Pat, PatIdent, ReturnType,
    Type, parse_quote, spanned::Spanned,
};

use crate::{
    args::Ttl,
    check::{self, CachedMethod, KeyParamDecl, Read, WriteMethod},
    errors::Errors,
    oai,
};

impl ToTokens for KeyParamDecl {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let rt = runtime();
        let name = &self.name;
        let read = match self.read {
            Read::QueryFirst => quote!(QueryFirst),
            Read::QueryAll => quote!(QueryAll),
            Read::QuerySet => quote!(QuerySet),
            Read::Path => quote!(Path),
        };
        let ignore_case = self.ignore_case;
        tokens.extend(quote! {
            #rt::KeyParam { name: #name, read: #rt::ParamRead::#read, ignore_case: #ignore_case }
        });
    }
}

/// `#[cached_api]`: validates every `#[cached]` method of the impl and rewrites the valid
/// ones; reports every mistake at once. The impl is always emitted (with the `#[cached]`
/// attributes removed) so that `#[OpenApi]` still expands and no follow-on errors appear.
pub(crate) fn cached_api(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    check::api_arguments(&args, &mut errors);
    let Some(mut item_impl) = check::api_impl(&item, &mut errors) else {
        let compile_errors = errors.to_compile_error();
        return quote!(#compile_errors #item);
    };
    if !check::above_openapi(&item_impl, &mut errors) {
        // The placement is reported once; the #[cached] attributes become inert.
        for item in &mut item_impl.items {
            if let ImplItem::Fn(method) = item {
                method
                    .attrs
                    .iter_mut()
                    .filter(|a| is_unprocessed(a))
                    .for_each(mark_processed);
            }
        }
        let compile_errors = errors.to_compile_error();
        return quote!(#compile_errors #item_impl);
    }
    let names = rewrite_impl(&mut item_impl, &mut errors);
    let registry = cache_names_impl(&item_impl, &names);
    let compile_errors = errors.to_compile_error();
    quote! {
        #compile_errors
        #item_impl
        #registry
    }
}

/// `impl CachedApi for Self`, listing the cache names of the impl's `#[cached]` operations so
/// that the app can check them for uniqueness across every API it mounts.
fn cache_names_impl(item_impl: &ItemImpl, names: &[LitStr]) -> TokenStream {
    let (impl_generics, _, where_clause) = item_impl.generics.split_for_impl();
    let self_ty = &item_impl.self_ty;
    let rt = runtime();
    quote! {
        impl #impl_generics #rt::CachedApi for #self_ty #where_clause {
            const CACHE_NAMES: &'static [&'static str] = &[#(#names),*];
        }
    }
}

/// Rewrites the `#[cached]` and `#[invalidates]` methods of the impl; returns the cache names
/// of the rewritten `#[cached]` methods, in order.
fn rewrite_impl(item_impl: &mut ItemImpl, errors: &mut Errors) -> Vec<LitStr> {
    let api_attrs = item_impl.attrs.clone();
    let mut declared: Vec<LitStr> = Vec::new();
    let mut names = check::CacheNames::default();
    for item in &mut item_impl.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(attr) = take_attr(method, errors, oai::is_cached_attr, "#[cached]") else {
            continue;
        };
        let Some(cached) = check::validate_method(method, &attr, &api_attrs, errors) else {
            continue;
        };
        if !names.claim(&cached, &method.sig.ident, errors) {
            continue;
        }
        declared.push(cached.args.name.clone());
        rewrite_method(method, &cached);
    }
    // Second pass, once every cache name of the impl is known: the writes.
    for item in &mut item_impl.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(attr) = take_attr(method, errors, oai::is_invalidates_attr, "#[invalidates]")
        else {
            continue;
        };
        let Some(invalidated) = check::validate_write(method, &attr, errors) else {
            continue;
        };
        rewrite_write(method, &invalidated);
    }
    declared
}

/// The argument `#[cached_api]` leaves on the `#[cached]` attributes it has processed:
/// `#[cached(__processed_by_cached_api)]` expands to the method unchanged. Keeping the
/// attribute (instead of removing it) keeps the user's `use hub_macros::cached` import used.
const PROCESSED: &str = "__processed_by_cached_api";

/// An unprocessed `#[cached]` or `#[invalidates]`.
fn is_unprocessed(attr: &Attribute) -> bool {
    (oai::is_cached_attr(attr) || oai::is_invalidates_attr(attr)) && !is_processed(attr)
}

fn is_processed(attr: &Attribute) -> bool {
    matches!(&attr.meta, syn::Meta::List(l) if is_processed_marker(&l.tokens))
}

/// Whether the arguments of a `#[cached(...)]` are the [`PROCESSED`] marker.
fn is_processed_marker(args: &TokenStream) -> bool {
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

/// Returns a copy of the first unprocessed attribute that `is_kind` recognizes (further ones
/// are reported as duplicates, see [`check::single_attr`]) and marks them all processed.
fn take_attr(
    method: &mut ImplItemFn,
    errors: &mut Errors,
    is_kind: fn(&Attribute) -> bool,
    what: &str,
) -> Option<Attribute> {
    let unprocessed = |a: &Attribute| is_kind(a) && !is_processed(a);
    let found = check::single_attr(method.attrs.iter().filter(|a| unprocessed(a)), what, errors);
    method
        .attrs
        .iter_mut()
        .filter(|a| unprocessed(a))
        .for_each(mark_processed);
    found
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
    let wrapped: Type = if cached.args.public.is_some() {
        syn::parse_quote_spanned!(ret_span=> ::hub_core::cache::runtime::Cached<#ret_ty, ::hub_core::cache::runtime::Public>)
    } else {
        syn::parse_quote_spanned!(ret_span=> ::hub_core::cache::runtime::Cached<#ret_ty>)
    };
    method.sig.output = ReturnType::Type(Default::default(), Box::new(wrapped));

    let name = &cached.args.name;
    let ttl = match cached.args.ttl {
        Ttl::Default => quote!(#rt::Ttl::Default),
        Ttl::Dashboard => quote!(#rt::Ttl::Dashboard),
        Ttl::Feeds => quote!(#rt::Ttl::Feeds),
        Ttl::Seconds(s) => {
            let s = Literal::u64_suffixed(s);
            quote!(#rt::Ttl::Seconds(#s))
        }
    };
    let params = &cached.key_params;
    let reads = match &cached.args.reads {
        Some(tables) => {
            let tables = tables.iter().map(table_path);
            quote!(&[#(#tables),*])
        }
        None => quote!(::hub_core::tables::Table::ALL),
    };
    document(
        method,
        &match &cached.args.reads {
            Some(tables) => format!(
                "Cached: an answer is reused until one of the tables it reads changes \
                 (or its TTL ends). Reads {}.",
                table_list(tables)
            ),
            None => {
                "Cached: an answer is reused until any table changes (or its TTL ends).".to_owned()
            }
        },
    );
    let variant = match &cached.args.key {
        // Spanned on the user's path: a key function of the wrong type is reported there.
        Some(key) => quote_spanned!(key.span()=> ::hub_core::cache::runtime::variant(#key, #req)),
        None => quote!(::std::string::String::new()),
    };
    let spec = Ident::new("__HUB_SPEC", Span::mixed_site());
    let var = Ident::new("__hub_variant", Span::mixed_site());
    let ret = Ident::new("__hub_ret", Span::mixed_site());
    let body = &method.block;
    // Spanned on the return type, path included: a return type that is not an API response
    // fails `serve`'s bounds, and that error then points at the user's type.
    let call = quote_spanned! {ret_span=>
        ::hub_core::cache::runtime::serve(&#spec, #req, #var, async move || {
            // The original body, typed as the original return type so that `?` and `return`
            // inside it mean what they meant in the handler.
            let #ret: #ret_ty = async move #body.await;
            #ret
        })
        .await
    };
    method.block = parse_quote! {{
        static #spec: #rt::CacheSpec = #rt::CacheSpec {
            name: #name,
            ttl: #ttl,
            params: &[#(#params),*],
            reads: #reads,
        };
        let #var: ::std::string::String = #variant;
        #call
    }};
}

/// The `hub_core::tables::Table` a table name of the user's stands for, spanned on the name:
/// a name that is no table fails the build there, with the compiler's suggestion.
fn table_path(table: &Ident) -> TokenStream {
    quote_spanned!(table.span()=> ::hub_core::tables::by_name::#table)
}

/// `tables` as the OpenAPI description lists them: `` `a`, `b` and `c` ``.
fn table_list(tables: &[Ident]) -> String {
    let names: Vec<String> = tables.iter().map(|t| format!("`{t}`")).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

/// Appends `paragraph` to the method's doc comment, which `#[OpenApi]` turns into the
/// operation's description: the declaration is the one place that states what an operation
/// reads or changes, and the OpenAPI document says it from there.
fn document(method: &mut ImplItemFn, paragraph: &str) {
    let paragraph = format!(" {paragraph}");
    method.attrs.push(parse_quote!(#[doc = ""]));
    method.attrs.push(parse_quote!(#[doc = #paragraph]));
}

/// Rewrites a validated `#[invalidates]` method: request parameter reused or injected,
/// return type `R` -> `Invalidated<R>`, body wrapped in `invalidating(...)`, and the tables it
/// changes stated in its description.
fn rewrite_write(method: &mut ImplItemFn, write: &WriteMethod) {
    let rt = runtime();
    let req = request_param(method);
    let (ret_ty, ret_span): (Type, Span) = match &method.sig.output {
        ReturnType::Default => (parse_quote!(()), method.sig.ident.span()),
        ReturnType::Type(_, ty) => ((**ty).clone(), ty.span()),
    };
    let wrapped: Type =
        syn::parse_quote_spanned!(ret_span=> ::hub_core::cache::runtime::Invalidated<#ret_ty>);
    method.sig.output = ReturnType::Type(Default::default(), Box::new(wrapped));
    let changes = write.changes.iter().map(table_path);
    document(
        method,
        &format!(
            "Changes {}: cached answers that read them are recomputed.",
            table_list(&write.changes)
        ),
    );
    let spec = Ident::new("__HUB_INVALIDATES", Span::mixed_site());
    let ret = Ident::new("__hub_ret", Span::mixed_site());
    let body = &method.block;
    method.block = parse_quote! {{
        static #spec: #rt::InvalidateSpec = #rt::InvalidateSpec {
            changes: &[#(#changes),*],
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
    // The parameter is ours: a handler with clippy's limit of seven must not be flagged for
    // the eighth (the lint would point at the user's `#[cached_api]`).
    method
        .attrs
        .push(parse_quote!(#[allow(clippy::too_many_arguments)]));
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
    let mut out = check::not_expanded(what).to_compile_error();
    item.to_tokens(&mut out);
    out
}

/// Snapshots of the expansion's shape (`src/snapshots/`, pretty-printed): what a method
/// becomes, which methods are left alone, and which errors are reported together. What the
/// expansion does when it runs is tested in `tests/expand`; where each error points, in
/// `tests/ui`. After a deliberate change: `INSTA_UPDATE=always cargo test -p hub-macros`, then
/// read the diff of the `.snap` files.
#[cfg(test)]
mod tests {
    use super::*;

    /// The expansion of `#[cached_api]` on `item`, pretty-printed.
    fn expand(item: ItemImpl) -> String {
        let out = cached_api(TokenStream::new(), item.into_token_stream());
        prettyplease::unparse(&syn::parse2(out).expect("the expansion is a list of items"))
    }

    #[test]
    fn rewrites_marked_methods_only() {
        insta::assert_snapshot!(expand(parse_quote! {
            #[OpenApi]
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a", ttl = dashboard, key = role_key)]
                async fn a(&self, #[oai(name = "type")] kind: Query<String>, limit: Query<u32>) -> Json<u32> { Json(1) }

                #[oai(path = "/b", method = "post")]
                async fn b(&self) -> Json<u32> { Json(2) }
            }
        }));
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
    }

    #[test]
    fn reuses_the_request_parameter() {
        insta::assert_snapshot!(expand(parse_quote! {
            #[poem_openapi::OpenApi]
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a", ttl = 5)]
                async fn a(&self, req: &Request) -> Json<u32> { Json(1) }
                #[oai(path = "/b", method = "get")]
                #[cached(name = "b")]
                async fn b(&self, _: &poem::Request) -> Json<u32> { Json(1) }
            }
        }));
    }

    #[test]
    fn rewrites_writes_and_documents_reads_and_writes() {
        insta::assert_snapshot!(expand(parse_quote! {
            #[OpenApi]
            impl Api {
                /// Read a.
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a", reads = [nodes, node_tags, channels])]
                async fn a(&self) -> Json<u32> { Json(1) }
                /// Read b.
                #[oai(path = "/b", method = "get")]
                #[cached(name = "b")]
                async fn b(&self) -> Json<u32> { Json(1) }
                /// Write a.
                #[oai(path = "/a", method = "post")]
                #[invalidates(node_tags)]
                async fn post(&self, req: &Request) -> Json<u32> { Json(2) }
            }
        }));
    }

    #[test]
    fn reports_every_mistaken_write_and_rewrites_the_valid_one() {
        insta::assert_snapshot!(expand(parse_quote! {
            #[OpenApi]
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[invalidates(nodes)]
                async fn a(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/b")]
                #[invalidates(nodes)]
                async fn b(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/c", method = "post")]
                #[invalidates(nodes)]
                fn c(&self) -> Json<u32> { Json(1) }
                #[invalidates(nodes)]
                async fn d(&self) -> Json<u32> { Json(1) }
                #[oai(path = "/e", method = "delete")]
                #[invalidates(nodes)]
                #[invalidates(user_profiles)]
                async fn e(&self) -> Json<u32> { Json(1) }
            }
        }));
    }

    #[test]
    fn without_openapi_below_nothing_is_rewritten() {
        insta::assert_snapshot!(expand(parse_quote! {
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a")]
                async fn a(&self) -> Json<u32> { Json(1) }
            }
        }));
    }

    #[test]
    fn key_covers_path_and_every_query_value_of_multi_valued_parameters() {
        insta::assert_snapshot!(expand(parse_quote! {
            #[OpenApi(ignore_case)]
            impl Api {
                #[oai(path = "/r/:id", method = "get")]
                #[cached(name = "r")]
                async fn r(
                    &self,
                    id: Path<String>,
                    seen: Query<Vec<String>>,
                    #[oai(explode = false)] ids: Query<Vec<String>>,
                    tags: Query<Option<HashSet<String>>>,
                    #[oai(ignore_case = false)] exact: Query<Option<String>>,
                ) -> Json<u32> { Json(1) }
            }
        }));
    }

    #[test]
    fn header_and_cookie_parameters_need_a_key_function_and_names_are_unique() {
        insta::assert_snapshot!(expand(parse_quote! {
            #[OpenApi]
            impl Api {
                #[oai(path = "/a", method = "get")]
                #[cached(name = "a")]
                async fn a(&self, token: Header<String>) -> Json<u32> { Json(1) }
                #[oai(path = "/b", method = "get")]
                #[cached(name = "b", key = by_token)]
                async fn b(&self, token: Header<String>, s: Cookie<String>) -> Json<u32> { Json(1) }
                #[oai(path = "/c/:x", method = "get")]
                #[cached(name = "c")]
                async fn c(&self, x: Path<String>, #[oai(name = "x")] y: Query<String>) -> Json<u32> { Json(1) }
            }
        }));
    }

    #[test]
    fn reports_every_mistaken_read_and_rewrites_the_valid_one() {
        insta::assert_snapshot!(expand(parse_quote! {
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
        }));
    }
}
