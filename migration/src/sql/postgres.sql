-- MeshCore Hub's schema on PostgreSQL (alembic head a59611449e2a): the tables, column types,
-- defaults, constraint and index names that its migrations create (see the pg_dump of head
-- da69304d8106 in hub-api/tests/fixtures/meshcore-hub-postgres.sql; a59611449e2a only rebuilds
-- ix_packet_path_hops_raw_packet_id_position as a covering index with INCLUDE), with
-- constraints inline so that each table is one statement. No schema prefix: objects land in the connection's current schema.
-- Tables are in dependency order; every statement ends with `;` at a line end.

CREATE TABLE nodes (
    id character varying NOT NULL,
    public_key character varying(64) NOT NULL,
    name character varying(255),
    adv_type character varying(20),
    flags integer,
    first_seen timestamp with time zone NOT NULL,
    last_seen timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    lat double precision,
    lon double precision,
    is_observer boolean DEFAULT false NOT NULL,
    CONSTRAINT nodes_pkey PRIMARY KEY (id),
    CONSTRAINT nodes_public_key_key UNIQUE (public_key)
);
CREATE INDEX ix_nodes_adv_type ON nodes USING btree (adv_type);
CREATE INDEX ix_nodes_is_observer ON nodes USING btree (is_observer);
CREATE INDEX ix_nodes_last_seen ON nodes USING btree (last_seen);
CREATE UNIQUE INDEX ix_nodes_public_key ON nodes USING btree (public_key);

CREATE TABLE node_tags (
    id character varying NOT NULL,
    node_id character varying NOT NULL,
    key character varying(100) NOT NULL,
    value text,
    value_type character varying(20) DEFAULT 'string'::character varying NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT node_tags_pkey PRIMARY KEY (id),
    CONSTRAINT uq_node_tags_node_key UNIQUE (node_id, key),
    CONSTRAINT node_tags_node_id_fkey FOREIGN KEY (node_id) REFERENCES nodes(id) ON DELETE CASCADE
);
CREATE INDEX ix_node_tags_key ON node_tags USING btree (key);
CREATE INDEX ix_node_tags_node_id ON node_tags USING btree (node_id);

CREATE TABLE advertisements (
    id character varying NOT NULL,
    observer_node_id character varying,
    node_id character varying,
    public_key character varying(64) NOT NULL,
    name character varying(255),
    adv_type character varying(20),
    flags integer,
    received_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    event_hash character varying(32),
    route_type character varying(20),
    advert_timestamp timestamp with time zone,
    packet_hash character varying(32),
    CONSTRAINT advertisements_pkey PRIMARY KEY (id),
    CONSTRAINT uq_advertisements_event_hash UNIQUE (event_hash),
    CONSTRAINT advertisements_node_id_fkey FOREIGN KEY (node_id) REFERENCES nodes(id) ON DELETE SET NULL,
    CONSTRAINT advertisements_receiver_node_id_fkey FOREIGN KEY (observer_node_id) REFERENCES nodes(id) ON DELETE SET NULL
);
CREATE INDEX ix_advertisements_node_id ON advertisements USING btree (node_id);
CREATE INDEX ix_advertisements_observer_node_id ON advertisements USING btree (observer_node_id);
CREATE INDEX ix_advertisements_packet_hash ON advertisements USING btree (packet_hash);
CREATE INDEX ix_advertisements_public_key ON advertisements USING btree (public_key);
CREATE INDEX ix_advertisements_received_at ON advertisements USING btree (received_at);

CREATE TABLE messages (
    id character varying NOT NULL,
    observer_node_id character varying,
    message_type character varying(20) NOT NULL,
    pubkey_prefix character varying(12),
    channel_idx integer,
    text text NOT NULL,
    path_len integer,
    txt_type integer,
    signature character varying(32),
    snr double precision,
    sender_timestamp timestamp with time zone,
    received_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    event_hash character varying(32),
    packet_hash character varying(32),
    path_prefix character varying(48),
    sender_normalized character varying(255),
    spam_score double precision,
    CONSTRAINT messages_pkey PRIMARY KEY (id),
    CONSTRAINT uq_messages_event_hash UNIQUE (event_hash),
    CONSTRAINT messages_receiver_node_id_fkey FOREIGN KEY (observer_node_id) REFERENCES nodes(id) ON DELETE SET NULL
);
CREATE INDEX ix_messages_channel_idx ON messages USING btree (channel_idx);
CREATE INDEX ix_messages_message_type ON messages USING btree (message_type);
CREATE INDEX ix_messages_observer_node_id ON messages USING btree (observer_node_id);
CREATE INDEX ix_messages_packet_hash ON messages USING btree (packet_hash);
CREATE INDEX ix_messages_path_prefix_received_at ON messages USING btree (path_prefix, received_at);
CREATE INDEX ix_messages_pubkey_prefix ON messages USING btree (pubkey_prefix);
CREATE INDEX ix_messages_received_at ON messages USING btree (received_at);
CREATE INDEX ix_messages_sender_normalized_received_at ON messages USING btree (sender_normalized, received_at);

CREATE TABLE channels (
    name character varying(100) NOT NULL,
    key_hex character varying(64) NOT NULL,
    channel_hash character varying(2) NOT NULL,
    visibility character varying(20) NOT NULL,
    enabled boolean NOT NULL,
    id character varying NOT NULL,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    CONSTRAINT channels_pkey PRIMARY KEY (id),
    CONSTRAINT channels_key_hex_key UNIQUE (key_hex)
);
CREATE UNIQUE INDEX ix_channels_name ON channels USING btree (name);

CREATE TABLE user_profiles (
    user_id character varying(255) NOT NULL,
    name character varying(255),
    callsign character varying(20),
    id character varying NOT NULL,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    roles text,
    description text,
    url character varying(2048),
    CONSTRAINT user_profiles_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_user_profiles_user_id ON user_profiles USING btree (user_id);

CREATE TABLE user_profile_nodes (
    user_profile_id character varying NOT NULL,
    node_id character varying NOT NULL,
    adopted_at timestamp with time zone NOT NULL,
    CONSTRAINT user_profile_nodes_pkey PRIMARY KEY (user_profile_id, node_id),
    CONSTRAINT uq_user_profile_nodes_node_id UNIQUE (node_id),
    CONSTRAINT user_profile_nodes_node_id_fkey FOREIGN KEY (node_id) REFERENCES nodes(id) ON DELETE CASCADE,
    CONSTRAINT user_profile_nodes_user_profile_id_fkey FOREIGN KEY (user_profile_id) REFERENCES user_profiles(id) ON DELETE CASCADE
);
CREATE INDEX ix_user_profile_nodes_node_id ON user_profile_nodes USING btree (node_id);

CREATE TABLE event_observers (
    id character varying(36) NOT NULL,
    event_type character varying(20) NOT NULL,
    event_hash character varying(32) NOT NULL,
    observer_node_id character varying(36) NOT NULL,
    snr double precision,
    observed_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    path_len integer,
    CONSTRAINT event_receivers_pkey PRIMARY KEY (id),
    CONSTRAINT uq_event_observers_hash_node UNIQUE (event_hash, observer_node_id),
    CONSTRAINT event_receivers_receiver_node_id_fkey FOREIGN KEY (observer_node_id) REFERENCES nodes(id) ON DELETE CASCADE
);
CREATE INDEX ix_event_observers_event_hash ON event_observers USING btree (event_hash);
CREATE INDEX ix_event_observers_observer_node_id ON event_observers USING btree (observer_node_id);
CREATE INDEX ix_event_observers_type_hash ON event_observers USING btree (event_type, event_hash);

CREATE TABLE routes (
    id character varying(36) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    from_label character varying(255) NOT NULL,
    to_label character varying(255) NOT NULL,
    description text,
    visibility character varying(20) NOT NULL,
    match_width integer NOT NULL,
    window_hours integer NOT NULL,
    packet_count_threshold integer NOT NULL,
    clear_threshold integer,
    max_hop_span integer,
    enabled boolean NOT NULL,
    reversible boolean DEFAULT true NOT NULL,
    max_path_length integer,
    created_by character varying(255),
    CONSTRAINT routes_pkey PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_routes_from_to ON routes USING btree (from_label, to_label);

CREATE TABLE route_results (
    id character varying(36) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    route_id character varying(36) NOT NULL,
    state character varying(20) NOT NULL,
    quality character varying(20) NOT NULL,
    matched_count integer NOT NULL,
    threshold integer NOT NULL,
    effective_clear integer NOT NULL,
    evaluated_at timestamp with time zone NOT NULL,
    quality_avg character varying(20),
    CONSTRAINT route_results_pkey PRIMARY KEY (id),
    CONSTRAINT route_results_route_id_fkey FOREIGN KEY (route_id) REFERENCES routes(id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ix_route_results_route_id ON route_results USING btree (route_id);

CREATE TABLE route_result_history (
    id character varying(36) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    route_id character varying(36) NOT NULL,
    date date NOT NULL,
    quality character varying(20) NOT NULL,
    state character varying(20) NOT NULL,
    matched_count integer NOT NULL,
    evaluated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT route_result_history_pkey PRIMARY KEY (id),
    CONSTRAINT uq_route_result_history_route_date UNIQUE (route_id, date),
    CONSTRAINT route_result_history_route_id_fkey FOREIGN KEY (route_id) REFERENCES routes(id) ON DELETE CASCADE
);
CREATE INDEX ix_route_result_history_route_id ON route_result_history USING btree (route_id);
CREATE INDEX ix_route_result_history_route_id_date ON route_result_history USING btree (route_id, date);

CREATE TABLE raw_packets (
    observer_node_id character varying,
    packet_hash character varying(32),
    raw_hex text,
    packet_type integer,
    payload_type integer,
    event_type character varying(50),
    channel_idx integer,
    source_pubkey_prefix character varying(12),
    route_type character varying(20),
    path_len integer,
    snr double precision,
    decoded json,
    received_at timestamp with time zone NOT NULL,
    id character varying NOT NULL,
    created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
    path_hash_bytes integer,
    event_hash character varying(32),
    CONSTRAINT raw_packets_pkey PRIMARY KEY (id),
    CONSTRAINT raw_packets_observer_node_id_fkey FOREIGN KEY (observer_node_id) REFERENCES nodes(id) ON DELETE SET NULL
);
CREATE INDEX ix_raw_packets_channel_idx ON raw_packets USING btree (channel_idx);
CREATE INDEX ix_raw_packets_channel_idx_received_at ON raw_packets USING btree (channel_idx, received_at);
CREATE INDEX ix_raw_packets_event_hash ON raw_packets USING btree (event_hash);
CREATE INDEX ix_raw_packets_event_type ON raw_packets USING btree (event_type);
CREATE INDEX ix_raw_packets_event_type_received_at ON raw_packets USING btree (event_type, received_at);
CREATE INDEX ix_raw_packets_observer_node_id ON raw_packets USING btree (observer_node_id);
CREATE INDEX ix_raw_packets_packet_hash ON raw_packets USING btree (packet_hash);
CREATE INDEX ix_raw_packets_packet_hash_received_at ON raw_packets USING btree (packet_hash, received_at);
CREATE INDEX ix_raw_packets_packet_type ON raw_packets USING btree (packet_type);
CREATE INDEX ix_raw_packets_received_at ON raw_packets USING btree (received_at);
CREATE INDEX ix_raw_packets_source_pubkey_prefix ON raw_packets USING btree (source_pubkey_prefix);
CREATE INDEX ix_raw_packets_source_pubkey_prefix_received_at ON raw_packets USING btree (source_pubkey_prefix, received_at);

CREATE TABLE events_log (
    id character varying NOT NULL,
    observer_node_id character varying,
    event_type character varying(50) NOT NULL,
    payload json,
    received_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT events_log_pkey PRIMARY KEY (id),
    CONSTRAINT events_log_receiver_node_id_fkey FOREIGN KEY (observer_node_id) REFERENCES nodes(id) ON DELETE SET NULL
);
CREATE INDEX ix_events_log_event_type ON events_log USING btree (event_type);
CREATE INDEX ix_events_log_observer_node_id ON events_log USING btree (observer_node_id);
CREATE INDEX ix_events_log_received_at ON events_log USING btree (received_at);

CREATE TABLE telemetry (
    id character varying NOT NULL,
    observer_node_id character varying,
    node_id character varying,
    node_public_key character varying(64) NOT NULL,
    lpp_data bytea,
    parsed_data json,
    received_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    event_hash character varying(32),
    CONSTRAINT telemetry_pkey PRIMARY KEY (id),
    CONSTRAINT uq_telemetry_event_hash UNIQUE (event_hash),
    CONSTRAINT telemetry_node_id_fkey FOREIGN KEY (node_id) REFERENCES nodes(id) ON DELETE SET NULL,
    CONSTRAINT telemetry_receiver_node_id_fkey FOREIGN KEY (observer_node_id) REFERENCES nodes(id) ON DELETE SET NULL
);
CREATE INDEX ix_telemetry_node_id ON telemetry USING btree (node_id);
CREATE INDEX ix_telemetry_node_public_key ON telemetry USING btree (node_public_key);
CREATE INDEX ix_telemetry_observer_node_id ON telemetry USING btree (observer_node_id);
CREATE INDEX ix_telemetry_received_at ON telemetry USING btree (received_at);

CREATE TABLE trace_paths (
    id character varying NOT NULL,
    observer_node_id character varying,
    initiator_tag bigint NOT NULL,
    path_len integer,
    flags integer,
    auth integer,
    path_hashes json,
    snr_values json,
    hop_count integer,
    received_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    event_hash character varying(32),
    CONSTRAINT trace_paths_pkey PRIMARY KEY (id),
    CONSTRAINT uq_trace_paths_event_hash UNIQUE (event_hash),
    CONSTRAINT trace_paths_receiver_node_id_fkey FOREIGN KEY (observer_node_id) REFERENCES nodes(id) ON DELETE SET NULL
);
CREATE INDEX ix_trace_paths_initiator_tag ON trace_paths USING btree (initiator_tag);
CREATE INDEX ix_trace_paths_observer_node_id ON trace_paths USING btree (observer_node_id);
CREATE INDEX ix_trace_paths_received_at ON trace_paths USING btree (received_at);

CREATE TABLE route_nodes (
    id character varying(36) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    route_id character varying(36) NOT NULL,
    node_id character varying(36) NOT NULL,
    "position" integer NOT NULL,
    expected_hash character varying(6),
    CONSTRAINT route_nodes_pkey PRIMARY KEY (id),
    CONSTRAINT route_nodes_node_id_fkey FOREIGN KEY (node_id) REFERENCES nodes(id) ON DELETE CASCADE,
    CONSTRAINT route_nodes_route_id_fkey FOREIGN KEY (route_id) REFERENCES routes(id) ON DELETE CASCADE
);
CREATE INDEX ix_route_nodes_node_id ON route_nodes USING btree (node_id);
CREATE INDEX ix_route_nodes_route_id ON route_nodes USING btree (route_id);

CREATE TABLE route_observers (
    id character varying(36) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    route_id character varying(36) NOT NULL,
    node_id character varying(36) NOT NULL,
    CONSTRAINT route_observers_pkey PRIMARY KEY (id),
    CONSTRAINT route_observers_node_id_fkey FOREIGN KEY (node_id) REFERENCES nodes(id) ON DELETE CASCADE,
    CONSTRAINT route_observers_route_id_fkey FOREIGN KEY (route_id) REFERENCES routes(id) ON DELETE CASCADE
);
CREATE INDEX ix_route_observers_node_id ON route_observers USING btree (node_id);
CREATE INDEX ix_route_observers_route_id ON route_observers USING btree (route_id);

CREATE TABLE packet_path_hops (
    id character varying(36) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    raw_packet_id character varying(36) NOT NULL,
    "position" integer NOT NULL,
    node_hash character varying(6) NOT NULL,
    packet_hash character varying(32),
    event_hash character varying(32),
    received_at timestamp with time zone NOT NULL,
    observer_node_id character varying(36),
    CONSTRAINT packet_path_hops_pkey PRIMARY KEY (id),
    CONSTRAINT packet_path_hops_observer_node_id_fkey FOREIGN KEY (observer_node_id) REFERENCES nodes(id) ON DELETE SET NULL,
    CONSTRAINT packet_path_hops_raw_packet_id_fkey FOREIGN KEY (raw_packet_id) REFERENCES raw_packets(id) ON DELETE CASCADE
);
CREATE INDEX ix_packet_path_hops_event_hash_received_at ON packet_path_hops USING btree (event_hash, received_at);
CREATE INDEX ix_packet_path_hops_node_hash_received_at ON packet_path_hops USING btree (node_hash, received_at);
CREATE INDEX ix_packet_path_hops_raw_packet_id_position ON packet_path_hops USING btree (raw_packet_id, "position") INCLUDE (node_hash, packet_hash, event_hash, received_at, observer_node_id);
CREATE INDEX ix_packet_path_hops_received_at ON packet_path_hops USING btree (received_at);

CREATE TABLE route_recent_matches (
    id character varying(36) NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    route_id character varying(36) NOT NULL,
    raw_packet_id character varying(36) NOT NULL,
    first_position integer NOT NULL,
    last_position integer NOT NULL,
    CONSTRAINT route_recent_matches_pkey PRIMARY KEY (id),
    CONSTRAINT uq_route_recent_matches_route_packet UNIQUE (route_id, raw_packet_id),
    CONSTRAINT route_recent_matches_raw_packet_id_fkey FOREIGN KEY (raw_packet_id) REFERENCES raw_packets(id) ON DELETE CASCADE,
    CONSTRAINT route_recent_matches_route_id_fkey FOREIGN KEY (route_id) REFERENCES routes(id) ON DELETE CASCADE
);
CREATE INDEX ix_route_recent_matches_route_id ON route_recent_matches USING btree (route_id);

CREATE TABLE alembic_version (
    version_num character varying(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
