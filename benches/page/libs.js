// The alternatives, bundled by esbuild for the benchmark page.
import axios from "axios";
import createAuthRefreshInterceptor from "axios-auth-refresh";
import ky from "ky";

window.libs = { axios, createAuthRefreshInterceptor, ky };
